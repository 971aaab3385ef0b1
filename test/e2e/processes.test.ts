/**
 * runSync, the harness's way to run a build step or a tool. Bash started with a socket on stdin and no
 * SHLVL (a harness not started from a shell) takes itself for an ssh session and reads the start-up files;
 * Debian's /etc/bash.bashrc then fails the model image's `bash -euo pipefail -c` RUN steps ("PS1: unbound
 * variable"). Node's stdio pipes are sockets, so a command without input must get no pipe on stdin.
 */
import { runSync } from "./lib/processes";

describe("runSync", () => {
  it("gives a command without input no socket on stdin (so bash -c reads no start-up file)", () => {
    expect(runSync(["bash", "-c", 'if [ -S /dev/stdin ]; then echo socket; else echo "not a socket"; fi'])).toBe("not a socket\n");
  });

  it("still passes input to the command when there is some", () => {
    expect(runSync(["cat"], { input: "data" })).toBe("data");
  });
});
