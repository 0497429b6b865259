// swift-tools-version:5.7
// Swift package over the generated bindings. The Rust static library ships
// as an XCFramework built on a Mac (see ffi/README.md, "Swift").
import PackageDescription

let package = Package(
    name: "ReferralSDK",
    platforms: [.iOS(.v13), .macOS(.v11)],
    products: [
        .library(name: "ReferralSDK", targets: ["ReferralSDK"]),
    ],
    targets: [
        .binaryTarget(name: "ReferralFFIBinary", path: "ReferralFFI.xcframework"),
        .target(
            name: "ReferralSDKFFI",
            dependencies: ["ReferralFFIBinary"],
            path: "Sources/ReferralSDKFFI"
        ),
        .target(
            name: "ReferralSDK",
            dependencies: ["ReferralSDKFFI"],
            path: "Sources/ReferralSDK"
        ),
    ]
)
