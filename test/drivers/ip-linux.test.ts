import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { holdsAddress } from '../../lib/drivers/ip-linux.ts'

const out = `2: eth0    inet 198.51.100.11/27 brd 198.51.100.31 scope global eth0\\       valid_lft forever preferred_lft forever
2: eth0    inet 198.51.100.20/24 scope global secondary eth0\\       valid_lft forever preferred_lft forever
2: eth0    inet6 2001:db8::20/64 scope global \\       valid_lft forever preferred_lft forever`

test('holdsAddress matches whole addresses only', () => {
  assert.ok(holdsAddress(out, '198.51.100.20'))
  assert.ok(holdsAddress(out, '2001:DB8::20'))
  assert.not.ok(holdsAddress(out, '198.51.100.2'))
  assert.not.ok(holdsAddress(out, '198.51.100.200'))
  assert.not.ok(holdsAddress('', '198.51.100.20'))
})

test.run()
