// Types of the package entry: the widget and the landing-page capture.
export * from "./widget.js";
export * from "./capture.js";
export declare function loadCore(wasmUrl?: string): Promise<unknown>;
