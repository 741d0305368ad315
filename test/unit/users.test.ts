import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parsePasswd, resolveUserFrom } from '../../src/users.js';

const passwd = 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\nuser:x:1000:1000::/home/user:/bin/sh\nbroken line\n';
const group = 'root:x:0:\nnogroup:x:65534:\nuser:x:1000:\nwheel:x:10:user,other\nstaff:x:50:user\n';

describe('users', () => {
  it('parses passwd, skipping malformed lines', () => {
    assert.equal(parsePasswd(passwd).length, 3);
  });
  it('no user is root with root home', () => {
    assert.deepEqual(resolveUserFrom(undefined, passwd, group), { uid: 0, gid: 0, groups: [], home: '/root', name: 'root' });
  });
  it('a name resolves uid, gid, home and supplementary groups', () => {
    const u = resolveUserFrom('user', passwd, group);
    assert.equal(u.uid, 1000);
    assert.equal(u.gid, 1000);
    assert.deepEqual(u.groups, [10, 50]);
    assert.equal(u.home, '/home/user');
  });
  it('numeric ids fall back when not in passwd', () => {
    assert.deepEqual(resolveUserFrom('4242', passwd, group), { uid: 4242, gid: 4242, groups: [] });
    assert.deepEqual(resolveUserFrom('4242:7', passwd, group), { uid: 4242, gid: 7, groups: [] });
  });
  it('user:group by names', () => {
    const u = resolveUserFrom('nobody:nogroup', passwd, group);
    assert.equal(u.uid, 65534);
    assert.equal(u.gid, 65534);
  });
  it('unknown names are errors that name them', () => {
    assert.throws(() => resolveUserFrom('ghost', passwd, group), /unknown user "ghost"/);
    assert.throws(() => resolveUserFrom('user:ghosts', passwd, group), /unknown group "ghosts"/);
    assert.throws(() => resolveUserFrom('a:b:c', passwd, group), /invalid user/);
  });
});
