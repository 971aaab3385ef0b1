/**
 * The harness's log and score: every check is one line, PASS or FAIL with its figures, and the run
 * ends with `N passed, N failed`. A step that cannot run is a failure with its reason, never a skip.
 */

const started = Date.now();

function elapsed(): string {
  return `${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s`;
}

export class Report {
  passed = 0;
  failed = 0;
  readonly failures: string[] = [];

  /** A section header. */
  step(title: string): void {
    console.log(`\n[${elapsed()}] == ${title}`);
  }

  /** An informational line (figures, what was started where). */
  info(message: string): void {
    console.log(`[${elapsed()}]    ${message}`);
  }

  pass(name: string, detail = ""): void {
    this.passed++;
    console.log(`[${elapsed()}]    PASS ${name}${detail ? `: ${detail}` : ""}`);
  }

  fail(name: string, reason: string): void {
    this.failed++;
    this.failures.push(`${name}: ${reason}`);
    console.log(`[${elapsed()}]    FAIL ${name}: ${reason}`);
  }

  /** Records a check: `ok` decides; `detail` is printed either way. */
  check(name: string, ok: boolean, detail: string): boolean {
    if (ok) this.pass(name, detail);
    else this.fail(name, detail);
    return ok;
  }

  /**
   * Runs a check body; a thrown error is a failure with its message. Returns the body's value, or
   * undefined when it failed.
   */
  async attempt<T>(name: string, body: () => Promise<T>): Promise<T | undefined> {
    try {
      return await body();
    } catch (err) {
      this.fail(name, describe(err));
      return undefined;
    }
  }

  summary(): string {
    return `${this.passed} passed, ${this.failed} failed`;
  }

  seconds(): number {
    return (Date.now() - started) / 1000;
  }
}

export function describe(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
