/**
 * Kubernetes resource quantities ("250m", "1", "512Mi", "2Gi"), parsed so that configuration can
 * compare a limit with its request before anything is synthesized.
 */

const CPU = /^(\d+(\.\d+)?)(m)?$/;
const MEMORY = /^(\d+(\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/;

const MEMORY_FACTORS: Record<string, number> = {
  "": 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: 1024 ** 3,
  Ti: 1024 ** 4,
};

/** CPU quantity in cores ("250m" -> 0.25), or undefined when it is not a CPU quantity. */
export function parseCpu(value: string): number | undefined {
  const m = CPU.exec(value);
  if (!m) return undefined;
  const n = Number(m[1]);
  return m[3] === "m" ? n / 1000 : n;
}

/** Memory quantity in bytes ("512Mi" -> 536870912), or undefined when it is not a memory quantity. */
export function parseMemory(value: string): number | undefined {
  const m = MEMORY.exec(value);
  if (!m) return undefined;
  return Number(m[1]) * MEMORY_FACTORS[m[3] ?? ""];
}

export const CPU_PATTERN = CPU;
export const MEMORY_PATTERN = MEMORY;

/** Problem with a CPU quantity (Kubernetes' smallest unit is 1m; zero is no CPU at all), or undefined. */
export function cpuProblem(value: string): string | undefined {
  const rule = 'a Kubernetes CPU quantity of at least 1m, such as "250m" or "1"';
  const cores = parseCpu(value);
  if (cores === undefined) return rule;
  if (cores === 0) return `${rule}: zero CPU is no CPU`;
  const millis = cores * 1000;
  if (millis < 1 || Math.abs(millis - Math.round(millis)) > 1e-9) return `${rule}: Kubernetes counts CPU in whole millicores`;
  return undefined;
}

/** Problem with a memory quantity (at least 1Mi: a container cannot start in less), or undefined. */
export function memoryProblem(value: string): string | undefined {
  const rule = 'a Kubernetes memory quantity of at least 1Mi, such as "512Mi" or "2Gi"';
  const bytes = parseMemory(value);
  if (bytes === undefined) return rule;
  if (bytes === 0) return `${rule}: zero memory is no memory`;
  if (bytes < 1024 ** 2) return `${rule}: a container cannot start in ${value}`;
  return undefined;
}
