/** CPU time this process spent (user + system), in ms: steadier than wall time on a busy machine. */
export function cpuMs(since?: NodeJS.CpuUsage): number {
  const usage = process.cpuUsage(since);
  return (usage.user + usage.system) / 1000;
}
