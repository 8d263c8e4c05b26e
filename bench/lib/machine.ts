/** What a result was measured on, recorded with every result line. */
import os from 'node:os';

export interface MachineInfo {
  cpus: number;
  cpuModel: string;
  node: string;
  platform: string;
  totalMemGB: number;
  /** 1, 5 and 15 minute load averages when the line was written. */
  loadavg: number[];
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    totalMemGB: Math.round(os.totalmem() / 2 ** 30),
    loadavg: os.loadavg().map((load) => Math.round(load * 100) / 100),
  };
}
