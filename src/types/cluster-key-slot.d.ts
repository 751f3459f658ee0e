// cluster-key-slot (a dependency of ioredis too) ships no types: the Redis Cluster slot of a key,
// by its hash tag when it has one.
declare module 'cluster-key-slot' {
  export default function calculateSlot(key: string | Buffer): number;
}
