/**
 * How a pod behind an AWS load balancer stops without failing requests.
 *
 * When a pod is deleted (rollout, scale-in, node drain), Kubernetes runs its preStop hook and, in
 * parallel, the AWS Load Balancer Controller deregisters it from the target group. The load balancer
 * stops sending it new requests only some seconds later (the controller's reaction and the ALB's own
 * propagation; kubernetes-sigs/aws-load-balancer-controller#3270 reports requests well after that), and
 * lets in-flight requests run for the target group's deregistration delay. oauth2-proxy stops accepting
 * connections within milliseconds of SIGTERM, so without a pause every request the ALB still sends is a
 * 502. The pod therefore keeps serving for a drain period longer than the deregistration delay (a
 * preStop sleep: SIGTERM comes only after it), and its grace period covers the drain plus the process's
 * own shutdown.
 */

/** The ALB's limit on a target group's deregistration delay. */
export const ALB_MAX_DEREGISTRATION_DELAY_SECONDS = 3600;

/** How much longer than the deregistration delay a pod keeps serving, for the load balancer to stop sending. */
export const DRAIN_MARGIN_SECONDS = 15;

/** The process's own shutdown after SIGTERM (oauth2-proxy finishes what it already accepted). */
export const SHUTDOWN_AFTER_DRAIN_SECONDS = 30;

/** The deregistration delay when none is configured: the idle timeout (transfers in flight may finish), within the ALB's limit. */
export function defaultDeregistrationDelaySeconds(idleTimeoutSeconds: number): number {
  return Math.min(idleTimeoutSeconds, ALB_MAX_DEREGISTRATION_DELAY_SECONDS);
}

/** A pod's stop timings behind a load balancer. */
export interface DrainTimings {
  /** The target group's deregistration delay. */
  readonly deregistrationDelaySeconds: number;
  /** The preStop pause: the pod keeps serving this long before SIGTERM. */
  readonly drainSeconds: number;
  /** The pod's terminationGracePeriodSeconds: the drain plus the shutdown after SIGTERM. */
  readonly terminationGracePeriodSeconds: number;
}

/**
 * The timings for a deregistration delay, with an explicit drain or the default one
 * (`deregistrationDelaySeconds + DRAIN_MARGIN_SECONDS`). Returns a problem instead when the drain
 * would end before the load balancer has stopped sending.
 */
/** What {@link drainTimings} refuses: the prop (of its own parameters), its value and what is expected. */
export interface DrainProblem {
  readonly prop: "deregistrationDelaySeconds" | "drainSeconds";
  readonly value: number;
  readonly expected: string;
}

export function drainTimings(deregistrationDelaySeconds: number, drainSeconds?: number): DrainTimings | { problem: DrainProblem } {
  if (
    !Number.isInteger(deregistrationDelaySeconds) ||
    deregistrationDelaySeconds < 0 ||
    deregistrationDelaySeconds > ALB_MAX_DEREGISTRATION_DELAY_SECONDS
  ) {
    return {
      problem: {
        prop: "deregistrationDelaySeconds",
        value: deregistrationDelaySeconds,
        expected: `a whole number from 0 to ${ALB_MAX_DEREGISTRATION_DELAY_SECONDS} (the ALB limit)`,
      },
    };
  }
  const drain = drainSeconds ?? deregistrationDelaySeconds + DRAIN_MARGIN_SECONDS;
  if (!Number.isInteger(drain) || drain <= deregistrationDelaySeconds) {
    return {
      problem: {
        prop: "drainSeconds",
        value: drain,
        expected: `a whole number above the load balancer's deregistration delay (${deregistrationDelaySeconds} s), or the pod stops while the load balancer still sends it requests; use at least ${deregistrationDelaySeconds + 1}, better ${deregistrationDelaySeconds + DRAIN_MARGIN_SECONDS}`,
      },
    };
  }
  return { deregistrationDelaySeconds, drainSeconds: drain, terminationGracePeriodSeconds: drain + SHUTDOWN_AFTER_DRAIN_SECONDS };
}
