import { expect } from 'chai';
import { Heartbeat, type Pingable } from '../src/heartbeat.js';

interface Member extends Pingable {
  pings: number;
  terminated: boolean;
}

function members(count: number): Member[] {
  return Array.from({ length: count }, () => {
    const member: Member = { alive: true, pings: 0, terminated: false, ws: { terminate: () => (member.terminated = true) } };
    return member;
  });
}

describe('heartbeat', () => {
  it('spreads a round over the interval: each 50 ms slice pings its share, every member once a round', () => {
    const all = members(1_000);
    const pinged: number[] = [];
    const heartbeat = new Heartbeat(30_000, all, (member) => {
      member.pings += 1;
      pinged.push(all.indexOf(member));
    });
    expect(heartbeat.slices).to.equal(600);
    const perSlice: number[] = [];
    for (let i = 0; i < heartbeat.slices; i += 1) {
      const before = pinged.length;
      heartbeat.step();
      perSlice.push(pinged.length - before);
    }
    expect(Math.max(...perSlice)).to.equal(2);
    expect(pinged).to.deep.equal(all.map((_, i) => i));
  });

  it('terminates a member that did not answer the previous round, and pings the rest again', () => {
    const all = members(10);
    const heartbeat = new Heartbeat(100, all, (member) => (member.pings += 1));
    for (let i = 0; i < heartbeat.slices; i += 1) heartbeat.step();
    for (const member of all.slice(1)) member.alive = true;
    for (let i = 0; i < heartbeat.slices; i += 1) heartbeat.step();
    expect(all.map((m) => m.terminated)).to.deep.equal([true, ...Array<boolean>(9).fill(false)]);
    expect(all.map((m) => m.pings)).to.deep.equal([1, ...Array<number>(9).fill(2)]);
  });

  it('takes the members there are when a round begins: one that joined meanwhile waits for the next', () => {
    const all = members(4);
    const heartbeat = new Heartbeat(200, all, (member) => (member.pings += 1));
    heartbeat.step();
    all.push(...members(1));
    for (let i = 1; i < heartbeat.slices; i += 1) heartbeat.step();
    expect(all.map((m) => m.pings)).to.deep.equal([1, 1, 1, 1, 0]);
    for (const member of all) member.alive = true;
    for (let i = 0; i < heartbeat.slices; i += 1) heartbeat.step();
    expect(all.map((m) => m.pings)).to.deep.equal([2, 2, 2, 2, 1]);
  });
});
