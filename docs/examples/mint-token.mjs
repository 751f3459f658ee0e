// Mints a rooms token the way your application's backend would: a JWT signed with HS256 and the
// secret it shares with rooms (jwtSecret). Run: ROOMS_JWT_SECRET=... node docs/examples/mint-token.mjs alice 1
import { SignJWT } from 'jose';

const [user = 'alice', channel = '1'] = process.argv.slice(2);
const secret = new TextEncoder().encode(process.env.ROOMS_JWT_SECRET);

const token = await new SignJWT({ channels: [channel] }) // ids, or 'path:id' patterns such as '/room:team-*'
  .setProtectedHeader({ alg: 'HS256' })
  .setSubject(user) // the name the member gets in the channel
  .setExpirationTime('10m') // rooms closes the connection when it passes, unless refreshed
  .sign(secret);

console.log(token);
