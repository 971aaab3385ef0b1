import { setFlagsFromString } from "v8";
import { runInNewContext } from "vm";
// cdktf's jest matchers (Testing.setupJest) are not registered: no test uses them (they read the JSON),
// and registering them loaded cdktf into every suite, including the many that never touch it.

// cdktf records a stack trace for every token it creates (and constructs for every metadata entry),
// into a plain object, never an Error. Under jest, formatting one goes through source-map-support, which
// reads and parses the inline source map of every frame's file: measured at 11 s of a 56 s run. Only
// those plain-object traces are formatted without source maps (cdktf prints them only when a token fails
// to resolve); every Error's stack, test failures included, keeps its source-mapped positions.
const sourceMapped = Error.prepareStackTrace;
if (sourceMapped) {
  Error.prepareStackTrace = (target: unknown, frames: NodeJS.CallSite[]) =>
    Object.prototype.toString.call(target) === "[object Error]"
      ? sourceMapped(target as Error, frames)
      : `${String(target)}\n    at ${frames.join("\n    at ")}`;
}

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;
afterAll(() => gc());
