// Preloaded into a benchmarked process (`node -r ./bench/rss-probe.js ...`, or through NODE_OPTIONS into
// every node process of a command such as `npm run synth`): on exit, writes the highest peak resident set
// size (KiB) of those processes to the file named by BENCH_RSS_FILE.
const fs = require("fs");
process.on("exit", () => {
  const file = process.env.BENCH_RSS_FILE;
  if (!file) return;
  let prior = 0;
  try {
    prior = Number(fs.readFileSync(file, "utf8")) || 0;
  } catch {
    /* first process to exit */
  }
  fs.writeFileSync(file, String(Math.max(prior, process.resourceUsage().maxRSS)));
});
