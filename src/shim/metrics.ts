// The guest's cgroup v2 figures in the type containerd expects from Stats:
// io.containerd.cgroups.v2.Metrics (what `ctr task metrics` and CRI read).
import { create, toBinary } from '@bufbuild/protobuf';
import type { CgroupStats } from '../agent-client/client.js';
import { MetricsSchema } from '../gen/containerd/cgroups_v2_pb.js';

export const METRICS_TYPE_URL = 'io.containerd.cgroups.v2.Metrics';

export function metricsOf(s: CgroupStats): Uint8Array {
  const m = s.memoryStat;
  const stat = (k: string) => m[k] ?? 0n;
  const ev = (k: string) => s.memoryEvents[k] ?? 0n;
  const metrics = create(MetricsSchema, {
    pids: { current: s.pidsCurrent, limit: s.pidsMax },
    cpu: {
      usageUsec: s.cpuUsageUsec,
      userUsec: s.cpuUserUsec,
      systemUsec: s.cpuSystemUsec,
      nrPeriods: s.cpuNrPeriods,
      nrThrottled: s.cpuNrThrottled,
      throttledUsec: s.cpuThrottledUsec,
    },
    memory: {
      anon: stat('anon'),
      file: stat('file'),
      kernelStack: stat('kernel_stack'),
      slab: stat('slab'),
      sock: stat('sock'),
      shmem: stat('shmem'),
      fileMapped: stat('file_mapped'),
      fileDirty: stat('file_dirty'),
      fileWriteback: stat('file_writeback'),
      anonThp: stat('anon_thp'),
      inactiveAnon: stat('inactive_anon'),
      activeAnon: stat('active_anon'),
      inactiveFile: stat('inactive_file'),
      activeFile: stat('active_file'),
      unevictable: stat('unevictable'),
      slabReclaimable: stat('slab_reclaimable'),
      slabUnreclaimable: stat('slab_unreclaimable'),
      pgfault: stat('pgfault'),
      pgmajfault: stat('pgmajfault'),
      workingsetRefault: stat('workingset_refault'),
      workingsetActivate: stat('workingset_activate'),
      workingsetNodereclaim: stat('workingset_nodereclaim'),
      pgrefill: stat('pgrefill'),
      pgscan: stat('pgscan'),
      pgsteal: stat('pgsteal'),
      pgactivate: stat('pgactivate'),
      pgdeactivate: stat('pgdeactivate'),
      pglazyfree: stat('pglazyfree'),
      pglazyfreed: stat('pglazyfreed'),
      thpFaultAlloc: stat('thp_fault_alloc'),
      thpCollapseAlloc: stat('thp_collapse_alloc'),
      usage: s.memoryCurrent,
      usageLimit: s.memoryMax,
      swapUsage: s.memorySwapCurrent,
      swapLimit: s.memorySwapMax,
    },
    io: {
      usage: s.io.map((e) => ({
        major: e.major,
        minor: e.minor,
        rbytes: e.rbytes,
        wbytes: e.wbytes,
        rios: e.rios,
        wios: e.wios,
      })),
    },
    memoryEvents: {
      low: ev('low'),
      high: ev('high'),
      max: ev('max'),
      oom: ev('oom'),
      oomKill: ev('oom_kill'),
    },
  });
  return toBinary(MetricsSchema, metrics);
}
