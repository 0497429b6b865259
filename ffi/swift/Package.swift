// swift-tools-version:5.7
// Swift package over the generated bindings. The Rust static library ships
// as an XCFramework built on a Mac (see ffi/README.md, "Swift").
//
// Sources/ is generated, not written by hand: `cargo xtask bindings`
// regenerates Sources/ReferralSDK/ReferralSDK.swift and
// Sources/ReferralSDKFFI/include/{ReferralSDKFFI.h,module.modulemap} from
// the Rust crate in ffi/ (uniffi), and CI's `cargo xtask bindings --check`
// fails when the committed copies are stale. Edit the Rust, not them. This
// file itself is hand-written.
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
