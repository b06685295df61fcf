// Browser test of the seat map: two buyers fight over the same two seats,
// then over overlapping carts of seats and a parking pass (one order each).
// Run by test.sh, which starts a cluster, creates a show and its add-on pool
// and starts the server; this file drives Debian's Chromium through
// playwright-core and prints TAP.
//
// Environment: SEATMAP_URL (the server), SHOW_ID, ADDON_POOL_ID (the parking
// passes), PG* (the cluster, for
// checks and for changes made behind the pages' backs), SEATMAP_SCREENSHOTS
// (default: ./screenshots), CHROMIUM (default /usr/bin/chromium).

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import pg from 'pg';

const here = path.dirname(fileURLToPath(import.meta.url));
const BASE = process.env.SEATMAP_URL;
const SHOW = Number(process.env.SHOW_ID);
const ADDON = Number(process.env.ADDON_POOL_ID);
const SHOTS = process.env.SEATMAP_SCREENSHOTS || path.join(here, 'screenshots');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const VIEWPORT = { width: 1360, height: 1000 };

if (!BASE || !SHOW || !ADDON) {
	console.log('Bail out! SEATMAP_URL, SHOW_ID and ADDON_POOL_ID must be set (run test.sh)');
	process.exit(1);
}

// ------------------------------------------------------------------ TAP

const steps = [];
const step = (description, fn) => steps.push({ description, fn });

function assert(cond, message) {
	if (!cond) throw new Error(message);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------ helpers

const db = new pg.Client({ application_name: 'seatmap-test' });
let browser;
const ctx = {}; // shared between steps
const jsErrors = [];

async function sql(text, values = []) {
	return (await db.query(text, values)).rows;
}

// Wait until every seat of ids has data-state state in page; returns ms taken.
async function waitStates(page, ids, state, timeout) {
	const t0 = Date.now();
	await page.waitForFunction(
		([ids, state]) =>
			ids.every((id) => document.querySelector(`.seat[data-seat-id="${id}"]`)?.dataset.state === state),
		[ids, state],
		{ timeout, polling: 20 },
	);
	return Date.now() - t0;
}

async function statesOf(page, ids) {
	return page.evaluate(
		(ids) => ids.map((id) => document.querySelector(`.seat[data-seat-id="${id}"]`)?.dataset.state),
		ids,
	);
}

// The ids of n free seats with consecutive numbers near the middle of
// stalls row (a letter).
async function adjacentFree(row, n) {
	const free = await sql(
		`SELECT seat_id, number FROM booking.seats
		  WHERE show_id = $1 AND section = 'Stalls' AND row_label = $2 AND status = 'available'
		  ORDER BY abs(number - 6), number`,
		[SHOW, row],
	);
	const at = new Map(free.map((r) => [r.number, Number(r.seat_id)]));
	const numbers = (first) => Array.from({ length: n }, (_, k) => first + k);
	const first = free.find((r) => numbers(r.number).every((k) => at.has(k)));
	assert(first, `no ${n} adjacent free seats in stalls row ${row}`);
	return numbers(first.number).map((k) => at.get(k));
}

const isRpc = (name) => (r) => r.url().endsWith(`/rpc/${name}`) && r.request().method() === 'POST';

// One call of the server's /rpc/<fn> outside the pages: as the browser
// whose id (its cookie) is as, or with no cookie (null). body: POST's JSON;
// query: GET's arguments.
async function call(fn, as, { body, query } = {}) {
	const headers = {};
	if (as) headers.Cookie = `seatmap_holder=${as}`;
	if (body) headers['Content-Type'] = 'application/json';
	const qs = query ? `?${new URLSearchParams(query)}` : '';
	const res = await fetch(`${BASE}/rpc/${fn}${qs}`, {
		method: body ? 'POST' : 'GET',
		headers,
		body: body ? JSON.stringify(body) : undefined,
	});
	return { status: res.status, body: await res.json(), auth: res.headers.get('www-authenticate') };
}

// The id the server gave this page's browser (its HttpOnly cookie).
async function browserId(page) {
	const c = (await page.context().cookies(BASE)).find((c) => c.name === 'seatmap_holder');
	assert(c && c.value, 'the browser has no seatmap_holder cookie');
	return c.value;
}

// r (from call) is HTTP status with SQLSTATE code.
function wantError(r, status, code, what) {
	const got = `${r.status} ${JSON.stringify(r.body)}`;
	assert(r.status === status && r.body.code === code, `${what}: got ${got}, want ${status} ${code}`);
}

async function openPage(context, name) {
	const page = await context.newPage();
	page.setDefaultTimeout(10000);
	page.on('pageerror', (e) => jsErrors.push(`${name}: ${e.message}`));
	page.on('console', (m) => {
		if (m.type() === 'error') jsErrors.push(`${name} console: ${m.text()}`);
	});
	return page;
}

// Full-page screenshots of [page, file name] pairs into SHOTS.
async function screenshots(shots) {
	fs.mkdirSync(SHOTS, { recursive: true });
	// Hover away from the seats so no seat is drawn magnified.
	for (const [p] of shots) await p.mouse.move(5, 5);
	await sleep(300);
	for (const [p, name] of shots) {
		const f = path.join(SHOTS, name);
		await p.screenshot({ path: f, fullPage: true });
		assert(fs.statSync(f).size > 20000, `${f} is too small`);
	}
}

// Both pages press Hold at the same moment. Each page's /rpc/<fn> request
// waits at a barrier in the browser's network layer until both have
// arrived, so they reach the server together and race in the database.
// Returns both answers (page a's, page b's), both request bodies and when
// the answers were in.
async function raceHold(fn) {
	let arrived = 0;
	let open;
	const gate = new Promise((r) => {
		open = r;
	});
	const bodies = [];
	const barrier = async (route) => {
		bodies.push(route.request().postDataJSON());
		if (++arrived === 2) open();
		await Promise.race([gate, sleep(3000)]);
		await route.continue();
	};
	const pattern = `**/rpc/${fn}`;
	await ctx.a.route(pattern, barrier);
	await ctx.b.route(pattern, barrier);
	const [ra, rb] = await Promise.all([
		ctx.a.waitForResponse(isRpc(fn)),
		ctx.b.waitForResponse(isRpc(fn)),
		ctx.a.click('#hold'),
		ctx.b.click('#hold'),
	]);
	const at = Date.now();
	await ctx.a.unroute(pattern);
	await ctx.b.unroute(pattern);
	assert(arrived === 2, `only ${arrived} request(s) reached the barrier`);
	return { answers: [await ra.json(), await rb.json()], bodies, at };
}

// ------------------------------------------------------------------ the steps

step('both buyers open the same show and see its whole seat map, live', async () => {
	const total = Number((await sql('SELECT count(*) AS n FROM booking.seats WHERE show_id = $1', [SHOW]))[0].n);
	await Promise.all(
		[ctx.a, ctx.b].map(async (p) => {
			await p.goto(`${BASE}/?show=${SHOW}`);
			// A marker that a reload would lose.
			await p.evaluate(() => {
				window.__noReload = true;
			});
			await p.waitForSelector('.seat[data-state]', { state: 'attached', timeout: 20000 });
			await p.waitForSelector('#live[data-live="true"]', { state: 'attached' });
		}),
	);
	const counts = await Promise.all([ctx.a, ctx.b].map((p) => p.locator('.seat').count()));
	assert(counts[0] === total && counts[1] === total, `pages show ${counts} seats, the show has ${total}`);
	const title = await ctx.a.locator('#show-title').textContent();
	assert(title && title.trim().length > 0, 'no show title');
});

step('both select the same two seats', async () => {
	ctx.pair = await adjacentFree('E', 2);
	for (const p of [ctx.a, ctx.b]) {
		for (const id of ctx.pair) await p.click(`.seat[data-seat-id="${id}"]`);
		const states = await statesOf(p, ctx.pair);
		assert(states.every((s) => s === 'selected'), `states after selecting: ${states}`);
	}
	ctx.labels = await ctx.a.evaluate(
		(ids) => ids.map((id) => document.querySelector(`.seat[data-seat-id="${id}"]`).dataset.label),
		ctx.pair,
	);
});

step('both press Hold at the same moment: exactly one gets the seats (reserve_seats held / conflict)', async () => {
	const {
		answers: [ja, jb],
		at,
	} = await raceHold('reserve_seats');
	ctx.conflictAt = at;
	const statuses = [ja.status, jb.status].sort().join(',');
	assert(statuses === 'conflict,held', `statuses ${statuses}`);
	const aWon = ja.status === 'held';
	ctx.winner = aWon ? ctx.a : ctx.b;
	ctx.loser = aWon ? ctx.b : ctx.a;
	ctx.won = aWon ? ja : jb;
	const lost = aWon ? jb : ja;
	// From now on the loser's page must show the seats held (timed from here).
	ctx.loserHeld = waitStates(ctx.loser, ctx.pair, 'held', 1000).then(
		() => Date.now() - ctx.conflictAt,
		(err) => {
			throw new Error(`not held 1 s after the conflict: ${err.message.split('\n')[0]}`);
		},
	);
	ctx.loserHeld.catch(() => {});
	assert(
		[...lost.unavailable].sort().join() === [...ctx.pair].sort().join(),
		`unavailable ${JSON.stringify(lost.unavailable)}, expected ${ctx.pair}`,
	);
	const rows = await sql(
		`SELECT booking_id FROM booking.bookings WHERE show_id = $1 AND status = 'held' AND seat_ids && $2::bigint[]`,
		[SHOW, ctx.pair],
	);
	assert(rows.length === 1 && Number(rows[0].booking_id) === ctx.won.booking_id, `held bookings: ${JSON.stringify(rows)}`);
});

step('the loser sees "Sorry, seats ... were just taken" naming both seats', async () => {
	const box = ctx.loser.locator('#message[data-kind="conflict"]');
	await box.waitFor({ state: 'visible', timeout: 2000 });
	assert((await box.getAttribute('role')) === 'alert', 'the message is not role=alert');
	const text = await box.locator('.message-text').textContent();
	ctx.conflictText = text;
	assert(/just taken/.test(text), `message: ${text}`);
	for (const label of ctx.labels) assert(text.includes(label), `message "${text}" does not name ${label}`);
});

step("the winner's two seats turn \"mine\"", async () => {
	await waitStates(ctx.winner, ctx.pair, 'mine', 2000);
});

step("the loser's two seats turn \"held\" within 1 s, without a reload", async () => {
	const total = await ctx.loserHeld;
	assert(total <= 1000, `took ${total} ms`);
	const kept = await Promise.all([ctx.a, ctx.b].map((p) => p.evaluate(() => window.__noReload === true)));
	assert(kept.every(Boolean), 'a page was reloaded');
});

step('the winner sees a countdown from held_until', async () => {
	const box = ctx.winner.locator('#countdown');
	await box.waitFor({ state: 'visible' });
	const text = (await ctx.winner.locator('#countdown-time').textContent()).trim();
	assert(/^(09:[0-5]\d|10:00)$/.test(text), `countdown shows ${text}, expected about 10:00`);
	const shown = Number(await box.getAttribute('data-held-until'));
	const expected = Date.parse(ctx.won.held_until);
	assert(Math.abs(shown - expected) < 1000, `countdown ends at ${shown}, held_until is ${expected}`);
	ctx.heldUntil = shown;
	// The seconds tick.
	await ctx.winner.waitForFunction(
		(first) => document.querySelector('#countdown-time').textContent.trim() !== first,
		text,
		{ timeout: 3000 },
	);
});

step('screenshots of both pages are saved (screenshots/conflict.png, screenshots/winner.png)', async () => {
	await screenshots([
		[ctx.loser, 'conflict.png'],
		[ctx.winner, 'winner.png'],
	]);
});

step('"More time" (extend_hold) moves the end of the hold later', async () => {
	const [r] = await Promise.all([ctx.winner.waitForResponse(isRpc('extend_hold')), ctx.winner.click('#extend')]);
	const body = await r.json();
	assert(body.status === 'held', `extend_hold answered ${JSON.stringify(body)}`);
	await ctx.winner.waitForFunction(
		(before) => Number(document.querySelector('#countdown').dataset.heldUntil) > before,
		ctx.heldUntil,
	);
	const [row] = await sql('SELECT extract(epoch FROM held_until) * 1000 AS t FROM booking.bookings WHERE booking_id = $1', [
		ctx.won.booking_id,
	]);
	assert(Math.abs(Number(row.t) - Date.parse(body.held_until)) < 1, 'held_until in the database differs');
});

step("the hold's holder is the winner's claim; the other browser cannot confirm, extend or release it, even naming that holder (403 PT403)", async () => {
	const [winner, loser] = [await browserId(ctx.winner), await browserId(ctx.loser)];
	assert(winner !== loser, 'both browsers have the same id');
	const id = ctx.won.booking_id;
	const row = async () =>
		(await sql('SELECT status, holder, held_until, payment_ref FROM booking.bookings WHERE booking_id = $1', [id]))[0];
	const before = await row();
	assert(before.status === 'held' && before.holder === winner, `the hold is ${JSON.stringify(before)}, not ${winner}'s`);
	for (const fn of ['confirm', 'extend_hold', 'release']) {
		wantError(await call(fn, loser, { body: { booking_id: id } }), 403, 'PT403', `${fn} of another browser's hold`);
		wantError(await call(fn, loser, { body: { booking_id: id, holder: winner } }), 403, 'PT403', `${fn} naming its holder`);
	}
	// Nor can it book in the winner's name.
	const [free] = await sql(
		`SELECT seat_id FROM booking.seats
		  WHERE show_id = $1 AND status = 'available' AND row_label = 'F' ORDER BY seat_id LIMIT 1`,
		[SHOW],
	);
	wantError(
		await call('reserve_seats', loser, { body: { show_id: SHOW, seat_ids: [Number(free.seat_id)], holder: winner } }),
		403,
		'PT403',
		"reserve_seats in the other browser's name",
	);
	const after = await row();
	assert(JSON.stringify(after) === JSON.stringify(before), `the hold changed: ${JSON.stringify(after)}`);
	const [seat] = await sql('SELECT status FROM booking.seats WHERE seat_id = $1', [free.seat_id]);
	assert(seat.status === 'available', `seat ${free.seat_id} is ${seat.status}`);
});

step('a hold made by another client in SQL shows as "held" in both pages within 2 s (LISTEN/NOTIFY)', async () => {
	const free = await sql(
		`SELECT seat_id FROM booking.seats WHERE show_id = $1 AND section = 'Dress Circle' AND row_label = 'E'
		   AND status = 'available' ORDER BY number LIMIT 2`,
		[SHOW],
	);
	ctx.boxIds = free.map((r) => Number(r.seat_id));
	assert(ctx.boxIds.length === 2, 'no free seats in dress circle row E');
	const [r] = await sql(
		"SELECT * FROM booking.reserve_seats(show_id => $1, seat_ids => $2, holder => 'box-office', hold_for => '5 minutes')",
		[SHOW, ctx.boxIds],
	);
	assert(r.status === 'held', `reserve_seats answered ${r.status}`);
	ctx.boxBooking = Number(r.booking_id);
	const t0 = Date.now();
	await Promise.all([ctx.a, ctx.b].map((p) => waitStates(p, ctx.boxIds, 'held', 2000)));
	assert(Date.now() - t0 <= 2000, `took ${Date.now() - t0} ms`);
});

step('the server survives a dropped LISTEN connection: a change made meanwhile still arrives', async () => {
	const before = await sql("SELECT pid FROM pg_stat_activity WHERE application_name = 'seatmap-listener'");
	assert(before.length === 1, `${before.length} listener connections`);
	await sql('SELECT pg_terminate_backend($1)', [before[0].pid]);
	// Changed while nobody listens (or just after): the server resends the map.
	const [r] = await sql("SELECT * FROM booking.release(booking_id => $1, holder => 'box-office')", [ctx.boxBooking]);
	assert(r.status === 'released', `release answered ${r.status}`);
	await Promise.all([ctx.a, ctx.b].map((p) => waitStates(p, ctx.boxIds, 'available', 5000)));
	const after = await sql("SELECT pid FROM pg_stat_activity WHERE application_name = 'seatmap-listener'");
	assert(after.length === 1 && after[0].pid !== before[0].pid, 'no new listener connection');
	await Promise.all([ctx.a, ctx.b].map((p) => p.waitForSelector('#live[data-live="true"]', { timeout: 5000 })));
	// And live updates flow again.
	const [h] = await sql(
		"SELECT * FROM booking.reserve_seats(show_id => $1, seat_ids => $2, holder => 'box-office', hold_for => '5 minutes')",
		[SHOW, ctx.boxIds],
	);
	await Promise.all([ctx.a, ctx.b].map((p) => waitStates(p, ctx.boxIds, 'held', 2000)));
	await sql("SELECT * FROM booking.release(booking_id => $1, holder => 'box-office')", [h.booking_id]);
	await Promise.all([ctx.a, ctx.b].map((p) => waitStates(p, ctx.boxIds, 'available', 2000)));
});

step('Pay (confirm): the seats are sold, and turn "sold" in the other page within 2 s', async () => {
	const [r] = await Promise.all([ctx.winner.waitForResponse(isRpc('confirm')), ctx.winner.click('#pay')]);
	const body = await r.json();
	assert(body.status === 'confirmed', `confirm answered ${JSON.stringify(body)}`);
	const t0 = Date.now();
	await waitStates(ctx.loser, ctx.pair, 'sold', 2000);
	assert(Date.now() - t0 <= 2000, `took ${Date.now() - t0} ms`);
	await ctx.winner.waitForFunction(
		(ids) => ids.every((id) => document.querySelector(`.seat[data-seat-id="${id}"]`).dataset.paid === 'true'),
		ctx.pair,
	);
	await ctx.winner.locator('#tickets-card').waitFor({ state: 'visible' });
	const [row] = await sql('SELECT status FROM booking.bookings WHERE booking_id = $1', [ctx.won.booking_id]);
	assert(row.status === 'confirmed', `booking is ${row.status}`);
});

step('Best available (reserve_best_available) holds adjacent seats, shown "held" in the other page live', async () => {
	await ctx.loser.selectOption('#best-quantity', '3');
	await ctx.loser.selectOption('#best-section', 'Stalls');
	const [r] = await Promise.all([ctx.loser.waitForResponse(isRpc('reserve_best_available')), ctx.loser.click('#best')]);
	const body = await r.json();
	assert(body.status === 'held' && body.seat_ids.length === 3, `reserve_best_available answered ${JSON.stringify(body)}`);
	ctx.best = body;
	const seats = await sql('SELECT section, row_label, number FROM booking.seats WHERE seat_id = ANY ($1) ORDER BY number', [
		body.seat_ids,
	]);
	assert(
		seats.every((s) => s.section === 'Stalls' && s.row_label === seats[0].row_label) &&
			seats[2].number - seats[0].number === 2,
		`not adjacent: ${JSON.stringify(seats)}`,
	);
	await waitStates(ctx.loser, body.seat_ids, 'mine', 2000);
	await waitStates(ctx.winner, body.seat_ids, 'held', 2000);
});

step('Release: the seats turn "available" in the other page within 2 s', async () => {
	const [r] = await Promise.all([ctx.loser.waitForResponse(isRpc('release')), ctx.loser.click('#release')]);
	const body = await r.json();
	assert(body.status === 'released' && body.released === 3, `release answered ${JSON.stringify(body)}`);
	const t0 = Date.now();
	await waitStates(ctx.winner, ctx.best.seat_ids, 'available', 2000);
	assert(Date.now() - t0 <= 2000, `took ${Date.now() - t0} ms`);
	await waitStates(ctx.loser, ctx.best.seat_ids, 'available', 2000);
	await ctx.loser.locator('#held-card').waitFor({ state: 'hidden' });
});

// ------------------------------------------------------------------ orders

// The add-on's spots left, in the database.
async function addonLeft() {
	return Number((await sql('SELECT available FROM booking.availability($1)', [ADDON]))[0].available);
}

// The bookings of an order, from the view.
async function orderBookings(orderId) {
	return sql(
		`SELECT booking_id, kind, status, seat_ids, pool_id, spots, extract(epoch FROM held_until) * 1000 AS held_until
		   FROM booking.bookings WHERE order_id = $1 ORDER BY booking_id`,
		[orderId],
	);
}

const sameIds = (a, b) => [...a].map(Number).sort((x, y) => x - y).join() === [...b].map(Number).sort((x, y) => x - y).join();

step('two buyers fill overlapping carts: two seats each, one of them in both carts, and the last parking pass each', async () => {
	// The organiser leaves one parking pass.
	const [pool] = await sql('SELECT capacity, available FROM booking.availability($1)', [ADDON]);
	await sql('SELECT booking.set_capacity($1, $2)', [ADDON, pool.capacity - pool.available + 1]);
	assert((await addonLeft()) === 1, 'not one parking pass left');
	// Three adjacent free seats: A wants the first two, B the last two.
	const trio = await adjacentFree('F', 3);
	ctx.carts = new Map([
		[ctx.a, trio.slice(0, 2)],
		[ctx.b, trio.slice(1)],
	]);
	ctx.shared = trio[1];
	for (const [p, ids] of ctx.carts) {
		for (const id of ids) await p.click(`.seat[data-seat-id="${id}"]`);
		await p.selectOption('#addon-quantity', '1');
		const states = await statesOf(p, ids);
		assert(states.every((st) => st === 'selected'), `states after selecting: ${states}`);
		const button = (await p.locator('#hold').textContent()).trim();
		assert(button === 'Hold 2 seats + Parking pass × 1', `the Hold button says "${button}"`);
	}
	ctx.trioLabels = await ctx.a.evaluate(
		(ids) => ids.map((id) => document.querySelector(`.seat[data-seat-id="${id}"]`).dataset.label),
		trio,
	);
});

step('both press Hold at the same moment, one reserve_order each: exactly one gets the whole cart, the other nothing', async () => {
	const {
		answers: [ja, jb],
		bodies,
	} = await raceHold('reserve_order');
	// One call per cart: the seats, then the add-on.
	for (const b of bodies) {
		assert(
			b.items.length === 2 && b.items[0].show_id === SHOW && b.items[0].seat_ids.length === 2 &&
				b.items[1].pool_id === ADDON && b.items[1].quantity === 1 && typeof b.idempotency_key === 'string',
			`the cart posted: ${JSON.stringify(b)}`,
		);
	}
	const statuses = [ja.status, jb.status].sort().join(',');
	assert(statuses === 'conflict,held', `statuses ${statuses}: ${JSON.stringify([ja, jb])}`);
	const aWon = ja.status === 'held';
	const o = (ctx.order = {
		winner: aWon ? ctx.a : ctx.b,
		loser: aWon ? ctx.b : ctx.a,
		won: aWon ? ja : jb,
		lost: aWon ? jb : ja,
	});
	o.winnerSeats = ctx.carts.get(o.winner);
	o.loserSeats = ctx.carts.get(o.loser);
	o.loserOnly = o.loserSeats.filter((id) => id !== ctx.shared);
	assert(
		o.won.order_id && o.won.booking_ids.length === 2 && JSON.stringify(o.won.unavailable) === '[]',
		`the winner's order: ${JSON.stringify(o.won)}`,
	);
	// The loser's answer names each failing item: the shared seat someone
	// else has, and the add-on, sold out.
	assert(o.lost.order_id === null && o.lost.booking_ids === null, `the loser's order: ${JSON.stringify(o.lost)}`);
	const want = [
		{ item: 0, status: 'conflict', seat_ids: [ctx.shared] },
		{ item: 1, status: 'sold_out' },
	];
	assert(JSON.stringify(o.lost.unavailable) === JSON.stringify(want), `unavailable ${JSON.stringify(o.lost.unavailable)}, want ${JSON.stringify(want)}`);
	// In the database: the winner's order holds every item, the loser has nothing.
	const items = await orderBookings(o.won.order_id);
	assert(
		items.length === 2 && items.every((b) => b.status === 'held') &&
			sameIds(items.map((b) => b.booking_id), o.won.booking_ids) &&
			items.some((b) => b.kind === 'seats' && sameIds(b.seat_ids, o.winnerSeats)) &&
			items.some((b) => b.kind === 'ticket' && Number(b.pool_id) === ADDON && b.spots === 1),
		`the winner's order in the database: ${JSON.stringify(items)}`,
	);
	const loser = await browserId(o.loser);
	const [held] = await sql(
		`SELECT count(*)::int AS n FROM booking.bookings WHERE holder = $1 AND status IN ('held', 'confirmed', 'waitlisted')
		    AND (seat_ids && $2::bigint[] OR pool_id = $3)`,
		[loser, o.loserSeats, ADDON],
	);
	assert(held.n === 0, `the loser holds ${held.n} booking(s) of its cart`);
	const seats = await sql('SELECT seat_id, status FROM booking.seats WHERE seat_id = ANY ($1) ORDER BY seat_id', [o.loserOnly]);
	assert(seats.every((r) => r.status === 'available'), `the loser's other seat: ${JSON.stringify(seats)}`);
	assert((await addonLeft()) === 0, 'a parking pass is still left');
});

step("the loser's page names what was taken (the seat, the sold-out parking pass) and shows nothing of its cart held (screenshots/order-conflict.png)", async () => {
	const o = ctx.order;
	const box = o.loser.locator('#message[data-kind="conflict"]');
	await box.waitFor({ state: 'visible', timeout: 2000 });
	assert((await box.getAttribute('role')) === 'alert', 'the message is not role=alert');
	const text = await box.locator('.message-text').textContent();
	ctx.orderConflictText = text;
	const sharedLabel = ctx.trioLabels[1];
	assert(new RegExp(`seat Stalls ${sharedLabel} was just taken`).test(text), `message "${text}" does not name ${sharedLabel}`);
	assert(/Parking pass is sold out/.test(text), `message "${text}" does not say the parking pass is sold out`);
	assert(/Nothing in your cart was held/.test(text), `message "${text}" does not say nothing was held`);
	for (const label of ctx.trioLabels.filter((l) => l !== sharedLabel))
		assert(!text.includes(label), `message "${text}" names ${label}, which was not taken`);
	// The map: the winner's seats are held, the loser's other seat is still
	// free and still in its cart; nothing is held for the loser.
	await waitStates(o.loser, o.winnerSeats, 'held', 2000);
	const [other] = await statesOf(o.loser, o.loserOnly);
	assert(other === 'selected', `the loser's other seat is "${other}" in its page`);
	await waitStates(o.winner, o.loserOnly, 'available', 2000);
	assert(await o.loser.locator('#held-card').isHidden(), 'the loser has a hold card');
	assert(await o.loser.locator(`.seat.taken[data-seat-id="${ctx.shared}"]`).count() === 1, 'the taken seat is not ringed');
	const left = (await o.loser.locator('#addon-left').textContent()).trim();
	assert(left === 'Sold out', `the add-on shows "${left}"`);
	await screenshots([[o.loser, 'order-conflict.png']]);
});

step("the winner's page shows the order's one hold: both seats \"mine\", the parking pass, one countdown (screenshots/order-winner.png)", async () => {
	const o = ctx.order;
	await waitStates(o.winner, o.winnerSeats, 'mine', 2000);
	await o.winner.locator('#held-card').waitFor({ state: 'visible' });
	const lines = await o.winner.locator('#held-list li').allTextContents();
	assert(lines.length === 3 && lines.some((l) => l.includes('Parking pass × 1')), `held list: ${JSON.stringify(lines)}`);
	const shown = Number(await o.winner.locator('#countdown').getAttribute('data-held-until'));
	assert(Math.abs(shown - Date.parse(o.won.held_until)) < 1000, `countdown ends at ${shown}, held_until is ${o.won.held_until}`);
	ctx.orderHeldUntil = shown;
	await screenshots([[o.winner, 'order-winner.png']]);
});

step('"More time" on the order is one extend_order call: every item\'s hold moves', async () => {
	const o = ctx.order;
	const [r] = await Promise.all([o.winner.waitForResponse(isRpc('extend_order')), o.winner.click('#extend')]);
	const body = await r.json();
	assert(body.status === 'held' && body.booking_id === o.won.order_id, `extend_order answered ${JSON.stringify(body)}`);
	await o.winner.waitForFunction(
		(before) => Number(document.querySelector('#countdown').dataset.heldUntil) > before,
		ctx.orderHeldUntil,
	);
	const items = await orderBookings(o.won.order_id);
	assert(
		items.every((b) => b.status === 'held' && Math.abs(Number(b.held_until) - Date.parse(body.held_until)) < 1),
		`the order's items: ${JSON.stringify(items)}, held_until ${body.held_until}`,
	);
});

step('Release of the order (release_order) gives its seats and its parking pass back at once', async () => {
	const o = ctx.order;
	const [r] = await Promise.all([o.winner.waitForResponse(isRpc('release_order')), o.winner.click('#release')]);
	const body = await r.json();
	assert(body.status === 'released' && body.released === 3, `release_order answered ${JSON.stringify(body)}`);
	const t0 = Date.now();
	await waitStates(o.loser, o.winnerSeats.filter((id) => id !== ctx.shared), 'available', 2000);
	await waitStates(o.loser, [ctx.shared], 'available', 2000);
	assert(Date.now() - t0 <= 2000, `took ${Date.now() - t0} ms`);
	await o.winner.locator('#held-card').waitFor({ state: 'hidden' });
	const items = await orderBookings(o.won.order_id);
	assert(items.every((b) => b.status === 'released'), `the order's items: ${JSON.stringify(items)}`);
	assert((await addonLeft()) === 1, 'the parking pass did not come back');
});

step('the loser now holds its whole cart in one order and pays: confirm_order confirms every item', async () => {
	const o = ctx.order;
	await o.loser.click(`.seat[data-seat-id="${ctx.shared}"]`);
	await o.loser.selectOption('#addon-quantity', '1');
	const states = await statesOf(o.loser, o.loserSeats);
	assert(states.every((st) => st === 'selected'), `the loser's cart: ${states}`);
	const [r] = await Promise.all([o.loser.waitForResponse(isRpc('reserve_order')), o.loser.click('#hold')]);
	const held = await r.json();
	assert(held.status === 'held' && held.booking_ids.length === 2, `reserve_order answered ${JSON.stringify(held)}`);
	await waitStates(o.loser, o.loserSeats, 'mine', 2000);
	await waitStates(o.winner, o.loserSeats, 'held', 2000);
	const [p] = await Promise.all([o.loser.waitForResponse(isRpc('confirm_order')), o.loser.click('#pay')]);
	const paid = await p.json();
	assert(paid.status === 'confirmed' && paid.booking_id === held.order_id, `confirm_order answered ${JSON.stringify(paid)}`);
	await waitStates(o.winner, o.loserSeats, 'sold', 2000);
	await o.loser.locator('#tickets-card').waitFor({ state: 'visible' });
	const tickets = await o.loser.locator('#tickets-list li').allTextContents();
	assert(tickets.some((l) => l.includes('Parking pass × 1') && l.includes(`#${held.order_id}`)), `tickets: ${JSON.stringify(tickets)}`);
	const items = await orderBookings(held.order_id);
	assert(items.length === 2 && items.every((b) => b.status === 'confirmed'), `the order's items: ${JSON.stringify(items)}`);
	assert((await addonLeft()) === 0, 'the parking pass is not sold');
});

// ------------------------------------------------------------------ errors, roles, checks

step('errors come back with their SQLSTATE and a matching HTTP status (PT403 403, 22023 400, PT404 404)', async () => {
	// A third browser, signed in: its own id.
	const other = crypto.randomUUID();
	const post = async (fn, body) => {
		const r = await call(fn, other, { body });
		return [r.status, r.body];
	};
	const checks = [
		[await post('release', { booking_id: ctx.won.booking_id }), 403, 'PT403'],
		[await post('reserve_seats', { show_id: SHOW, seat_ids: [] }), 400, '22023'],
		[await post('confirm', { booking_id: 987654321 }), 404, 'PT404'],
		[await post('reserve_seats', { show_id: SHOW, seat_ids: 'all' }), 400, '22023'],
	];
	for (const [[status, body], want, code] of checks)
		assert(status === want && body.code === code, `got ${status} ${JSON.stringify(body)}, want ${want} ${code}`);
	const [row] = await sql('SELECT status FROM booking.bookings WHERE booking_id = $1', [ctx.won.booking_id]);
	assert(row.status === 'confirmed', `the booking is now ${row.status}`);
});

step('a request without the cookie (no claims, the anonymous role) is refused: 42501, HTTP 401 with WWW-Authenticate: Bearer', async () => {
	const [free] = await sql(
		`SELECT seat_id FROM booking.seats WHERE show_id = $1 AND status = 'available' ORDER BY seat_id LIMIT 1`,
		[SHOW],
	);
	const before = await sql('SELECT count(*)::int AS n, max(updated_at) AS t FROM booking.bookings');
	const calls = [
		['release', { body: { booking_id: ctx.won.booking_id } }],
		['confirm', { body: { booking_id: ctx.won.booking_id } }],
		['reserve_seats', { body: { show_id: SHOW, seat_ids: [Number(free.seat_id)] } }],
		['reserve_best_available', { body: { show_id: SHOW, quantity: 1 } }],
		['my_bookings', {}],
	];
	for (const [fn, args] of calls) {
		const r = await call(fn, null, args);
		wantError(r, 401, '42501', `${fn} without the cookie`);
		assert(r.auth === 'Bearer', `${fn}: WWW-Authenticate is ${r.auth}`);
	}
	// A cookie that is no browser id is refused as PostgREST refuses a JWT that fails verification.
	const bad = await call('my_bookings', 'not-a-browser-id');
	wantError(bad, 401, 'PGRST301', 'my_bookings with a malformed cookie');
	assert(/^Bearer error="invalid_token"/.test(bad.auth), `WWW-Authenticate is ${bad.auth}`);
	const after = await sql('SELECT count(*)::int AS n, max(updated_at) AS t FROM booking.bookings');
	assert(JSON.stringify(after) === JSON.stringify(before), `bookings changed: ${JSON.stringify([before, after])}`);
});

step("my_bookings (GET, read-only) lists each browser's own bookings and no one else's", async () => {
	const [winner, loser] = [await browserId(ctx.winner), await browserId(ctx.loser)];
	const idsOf = (list) => list.map((b) => Number(b.booking_id)).sort((x, y) => x - y).join();
	for (const [who, id] of [
		['winner', winner],
		['loser', loser],
	]) {
		const r = await call('my_bookings', id);
		assert(r.status === 200 && Array.isArray(r.body), `${who}: got ${r.status} ${JSON.stringify(r.body)}`);
		const rows = await sql('SELECT booking_id FROM booking.bookings WHERE holder = $1', [id]);
		assert(rows.length > 0, `${who} has no bookings in the database`);
		assert(idsOf(r.body) === idsOf(rows), `${who} got bookings ${idsOf(r.body)}, the database has ${idsOf(rows)}`);
		ctx[`${who}Bookings`] = r.body;
	}
	const won = ctx.winnerBookings.find((b) => b.booking_id === ctx.won.booking_id);
	const same = (a, b) => [...a].sort().join() === [...b].sort().join();
	assert(
		won && won.status === 'confirmed' && won.kind === 'seats' && same(won.seat_ids, ctx.pair),
		`the winner's list: ${JSON.stringify(ctx.winnerBookings)}`,
	);
	const best = ctx.loserBookings.find((b) => b.booking_id === ctx.best.booking_id);
	assert(best && best.status === 'released', `the loser's list: ${JSON.stringify(ctx.loserBookings)}`);
	assert(!ctx.loserBookings.some((b) => b.booking_id === ctx.won.booking_id), "the loser's list has the winner's booking");
	assert(!ctx.winnerBookings.some((b) => b.booking_id === ctx.best.booking_id), "the winner's list has the loser's booking");
	// Asking for the other's, by naming the holder, is PT403.
	const other = await call('my_bookings', loser, { query: { holder: winner } });
	wantError(other, 403, 'PT403', "my_bookings?holder=<the winner's id> as the loser");
	// GET is a READ ONLY transaction, as in PostgREST: a state change fails (25006, HTTP 405).
	wantError(await call('release', winner, { query: { booking_id: ctx.won.booking_id } }), 405, '25006', 'release over GET');
	const [row] = await sql('SELECT status FROM booking.bookings WHERE booking_id = $1', [ctx.won.booking_id]);
	assert(row.status === 'confirmed', `the booking is now ${row.status}`);
});

step("the server logs in as seatmap (no superuser, not the owner) and runs each call as the request's role", async () => {
	const logins = await sql(
		`SELECT DISTINCT a.usename, r.rolsuper, r.rolinherit FROM pg_stat_activity a JOIN pg_roles r ON r.oid = a.usesysid
		  WHERE a.application_name = ANY ('{seatmap,seatmap-listener}')`,
	);
	assert(
		logins.length === 1 && logins[0].usename === 'seatmap' && !logins[0].rolsuper && !logins[0].rolinherit,
		`the server's connections log in as ${JSON.stringify(logins)}`,
	);
	const [owner] = await sql("SELECT pg_get_userbyid(extowner) AS name FROM pg_extension WHERE extname = 'booking'");
	assert(owner.name !== 'seatmap', 'seatmap owns the extension');
	// docs/rpc.md's grants: my_bookings for authenticated only. Signed-in calls
	// still work only if they run as authenticated (seatmap itself could no
	// longer execute it), anonymous ones are refused by the privilege itself.
	const winner = await browserId(ctx.winner);
	await sql('REVOKE EXECUTE ON FUNCTION booking.my_bookings(text) FROM PUBLIC');
	try {
		await sql('GRANT EXECUTE ON FUNCTION booking.my_bookings(text) TO authenticated');
		const mine = await call('my_bookings', winner);
		assert(mine.status === 200 && mine.body.length > 0, `signed in: got ${mine.status} ${JSON.stringify(mine.body)}`);
		const anon = await call('my_bookings', null);
		wantError(anon, 401, '42501', 'anonymous my_bookings without EXECUTE');
		assert(/permission denied for function my_bookings/.test(anon.body.message), `anonymous: ${anon.body.message}`);
	} finally {
		await sql('REVOKE EXECUTE ON FUNCTION booking.my_bookings(text) FROM authenticated');
		await sql('GRANT EXECUTE ON FUNCTION booking.my_bookings(text) TO PUBLIC');
	}
});

step('booking.check() finds nothing broken, and neither page had a JavaScript error', async () => {
	const broken = await sql('SELECT * FROM booking.check()');
	assert(broken.length === 0, `check(): ${JSON.stringify(broken)}`);
	assert(jsErrors.length === 0, jsErrors.join('; '));
});

// ------------------------------------------------------------------ run

async function main() {
	console.log(`1..${steps.length}`);
	let failed = 0;
	try {
		await db.connect();
		const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
		browser = await chromium.launch({
			executablePath: CHROMIUM,
			headless: true,
			args: asRoot ? ['--no-sandbox'] : [],
			timeout: 30000,
		});
		const ca = await browser.newContext({ viewport: VIEWPORT, deviceScaleFactor: 1 });
		const cb = await browser.newContext({ viewport: VIEWPORT, deviceScaleFactor: 1 });
		ctx.a = await openPage(ca, 'buyer A');
		ctx.b = await openPage(cb, 'buyer B');
	} catch (err) {
		console.log(`Bail out! ${err.message.split('\n')[0]}`);
		await cleanup();
		process.exit(1);
	}
	let n = 0;
	for (const { description, fn } of steps) {
		n++;
		const t0 = Date.now();
		try {
			await fn();
			console.log(`ok ${n} - ${description} (${Date.now() - t0} ms)`);
		} catch (err) {
			failed++;
			console.log(`not ok ${n} - ${description}`);
			for (const line of String(err.message).split('\n').slice(0, 8)) console.log(`#   ${line}`);
		}
	}
	if (ctx.conflictText) console.log(`# the loser saw: ${ctx.conflictText}`);
	if (ctx.orderConflictText) console.log(`# the loser of the carts saw: ${ctx.orderConflictText}`);
	await cleanup();
	process.exit(failed ? 1 : 0);
}

async function cleanup() {
	if (browser) await browser.close().catch(() => {});
	await db.end().catch(() => {});
}

main();
