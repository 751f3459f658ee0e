// Every measurement of a run, in order, sized by `sizes`.
import type { Sizes } from '../lib/sizes.js';
import { channelsOnRedis } from './channels-on-redis.js';
import { fanOutOnRedis } from './fan-out-on-redis.js';
import { flood } from './flood.js';
import { idle } from './idle.js';
import { latency } from './latency.js';
import { latencyOnRedis } from './latency-on-redis.js';
import { manyRooms } from './many-rooms.js';
import type { Measurement, ScenarioId } from './measurement.js';
import { overload } from './overload.js';
import { reap } from './reap.js';
import { scale } from './scale.js';
import { storm } from './storm.js';

export function measurements(sizes: Sizes, only: readonly ScenarioId[]): Measurement[] {
  const all: Measurement[] = [
    ...sizes.flood.members.map((count) => flood(sizes, count)),
    latency(sizes),
    manyRooms(sizes),
    idle(sizes),
    storm(sizes),
    reap(sizes),
    scale(sizes),
    overload(sizes),
    ...sizes.fanOutOnRedis.topologies.map((topology) => fanOutOnRedis(sizes, topology)),
    ...sizes.channelsOnRedis.topologies.map((topology) => channelsOnRedis(sizes, topology)),
    ...sizes.latencyOnRedis.topologies.map((topology) => latencyOnRedis(sizes, topology)),
  ];
  return all.filter((measurement) => only.includes(measurement.scenario));
}
