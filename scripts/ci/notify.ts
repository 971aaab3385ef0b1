/**
 * Tells Slack and/or Discord how a pipeline ended (every outcome: success, refusal, failure, rollback).
 *
 *   SLACK_WEBHOOK_URL=... DISCORD_WEBHOOK_URL=... node dist/scripts/ci/notify.js --status success --title "..." [--text "..."] [--url <run URL>]
 *
 * The webhook URLs come from the environment (repository secrets), never from arguments, and are never
 * printed. With neither set it says so and exits 0 (a fork without chat still runs its pipelines);
 * a channel that refuses the message exits 1.
 */
import { flag, run } from "./cli";

const STATUS = { success: "✅", failure: "❌", refused: "⛔", "rolled-back": "↩️", started: "▶️" } as const;
export type Status = keyof typeof STATUS;

export function messageText(o: { status: Status; title: string; text?: string; url?: string }): string {
  return `${STATUS[o.status]} ${o.title}${o.text ? `\n${o.text}` : ""}${o.url ? `\n${o.url}` : ""}`.slice(0, 1900);
}

export async function notify(o: { status: Status; title: string; text?: string; url?: string }, env: NodeJS.ProcessEnv): Promise<string[]> {
  const text = messageText(o);
  const sent: string[] = [];
  const channels: [string, string | undefined, unknown][] = [
    ["slack", env.SLACK_WEBHOOK_URL, { text }],
    ["discord", env.DISCORD_WEBHOOK_URL, { content: text, allowed_mentions: { parse: [] } }],
  ];
  for (const [name, url, body] of channels) {
    if (!url) continue;
    const res = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(15000),
    });
    // The channel's name only: the URL is the secret.
    if (!res.ok) throw new Error(`${name} refused the message: ${res.status}`);
    sent.push(name);
  }
  return sent;
}

export async function main(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const status = flag(argv, "--status") as Status | undefined;
  const title = flag(argv, "--title");
  if (!status || !(status in STATUS) || !title) {
    process.stderr.write(`usage: notify --status ${Object.keys(STATUS).join("|")} --title <text> [--text <text>] [--url <url>]\n`);
    return 2;
  }
  const sent = await notify({ status, title, text: flag(argv, "--text"), url: flag(argv, "--url") }, env);
  process.stdout.write(
    sent.length
      ? `notify: sent to ${sent.join(", ")}\n`
      : "notify: no channel configured (SLACK_WEBHOOK_URL, DISCORD_WEBHOOK_URL): nothing sent\n",
  );
  return 0;
}

if (require.main === module) run("notify", () => main(process.argv.slice(2)));
