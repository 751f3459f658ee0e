import { expect } from 'chai';
import { Heartbeat, type Pingable } from '../src/heartbeat.js';

interface Member extends Pingable {
  pings: number;
  terminated: boolean;
}

function members(count: number): Member[] {
  return Array.from({ length: count }, () => {
    const member: Member = { alive: true, pingedAt: 0, pings: 0, terminated: false, link: { terminate: () => (member.terminated = true) } };
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
    let now = 1_000;
    const heartbeat = new Heartbeat(100, all, (member) => (member.pings += 1), () => now);
    for (let i = 0; i < heartbeat.slices; i += 1, now += 50) heartbeat.step();
    for (const member of all.slice(1)) member.alive = true;
    for (let i = 0; i < heartbeat.slices; i += 1, now += 50) heartbeat.step();
    expect(all.map((m) => m.terminated)).to.deep.equal([true, ...Array<boolean>(9).fill(false)]);
    expect(all.map((m) => m.pings)).to.deep.equal([1, ...Array<number>(9).fill(2)]);
  });

  it('gives a member a whole interval to answer, even when those before it left and it moved up the round', () => {
    const all = members(100);
    let now = 1_000;
    const heartbeat = new Heartbeat(1_000, all, (member) => (member.pings += 1), () => now);
    for (let i = 0; i < heartbeat.slices; i += 1, now += 50) heartbeat.step();
    // The 95 oldest leave; the last five, pinged in the round's last slice, have not answered yet.
    const late = all.slice(95);
    all.splice(0, 95);
    heartbeat.step();
    expect(late.map((m) => m.terminated)).to.deep.equal([false, false, false, false, false]);
    // Their pongs come: the first, checked too soon, waits for the next round; the others are pinged again.
    for (const member of late) member.alive = true;
    for (let i = 1; i < heartbeat.slices; i += 1, now += 50) heartbeat.step();
    expect(late.map((m) => m.pings)).to.deep.equal([1, 2, 2, 2, 2]);
    for (const member of late) member.alive = true;
    for (let i = 0; i < heartbeat.slices; i += 1, now += 50) heartbeat.step();
    expect(late.map((m) => m.pings)).to.deep.equal([2, 3, 3, 3, 3]);
    expect(late.some((m) => m.terminated)).to.equal(false);
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
