'use strict';
// A live theatre seat map on top of the booking extension.
//
// Every state change is one call of the extension's SQL contract with named
// arguments, answered as JSON, and run the way PostgREST runs it for a
// signed-in user (docs/rpc.md, test/t/018_postgrest.pl): one transaction per
// request, the role and the JWT claims set local to it, then the call:
//
//   BEGIN ISOLATION LEVEL READ COMMITTED READ WRITE    (READ ONLY: GET, STABLE)
//   SELECT set_config('search_path', ..., true), set_config('role', 'authenticated', true),
//          set_config('request.jwt.claims', '{"sub": "<browser id>", "role": "authenticated"}', true), ...
//   SELECT to_json(r) FROM booking.<fn>(name => $1, ...) AS r
//   COMMIT
//
//   POST /rpc/reserve_seats           booking.reserve_seats(show_id, seat_ids, holder, hold_for, idempotency_key)
//   POST /rpc/reserve_best_available  booking.reserve_best_available(show_id, quantity, holder, section, hold_for, idempotency_key)
//   POST /rpc/confirm                 booking.confirm(booking_id, holder, payment_ref)
//   POST /rpc/release                 booking.release(booking_id, holder)
//   POST /rpc/extend_hold             booking.extend_hold(booking_id, holder, hold_for)
//   POST /rpc/reserve_order           booking.reserve_order(items, holder, hold_for, idempotency_key): a cart
//   POST /rpc/confirm_order           booking.confirm_order(order_id, holder, payment_ref)
//   POST /rpc/release_order           booking.release_order(order_id, holder)
//   POST /rpc/extend_order            booking.extend_order(order_id, holder, hold_for)
//   GET  /rpc/my_bookings             booking.my_bookings(holder): this browser's bookings
//   GET  /rpc/availability            booking.availability(pool_id): the add-on's spots left
//   GET  /api/show?show_id=N          the show's title, prices and add-on (configuration)
//   GET  /api/seats?show_id=N         the view booking.seats (with "mine" for this browser)
//   GET  /api/events?show_id=N        Server-Sent Events: the seat map, then every change
//
// The holder is the signed-in user: the database takes it from the claim
// that booking.holder_claim names (the setup sets it to 'sub'), so holder is
// left NULL; a holder in the request body is passed on as PostgREST would,
// and any other than the caller's own is PT403. The user is this browser's
// id, kept in an HttpOnly cookie: the demo's stand-in for the JWT that
// PostgREST verifies. A request without it runs as the anonymous role with
// no "sub" claim, so every call that needs a holder is 42501 (HTTP 401).
// Live updates come from one dedicated connection that LISTENs on
// booking_show_<id> (a show created with notify => true); it reconnects
// when dropped and then resends the map. The live map is the server's own
// read (as its login role, granted SELECT on booking.seats and
// booking.bookings by the setup): PostgREST has no such push.
//
// Configuration: PGHOST, PGPORT, PGUSER (the login; the setup makes role
// seatmap for it), PGDATABASE, PGPASSWORD (libpq's variables), RPC_ROLE
// (default authenticated), ANON_ROLE (default anon), PORT (default 8080),
// HOST (default 127.0.0.1), SHOW_ID (the show of "/"), SHOW_TITLE,
// SHOW_SUBTITLE, VENUE, HOLD_FOR (default '10 minutes'), SECTION_PRICES
// (JSON, e.g. {"Stalls": 65}), ADDON_POOL_ID (the pool of the add-on sold
// with the seats; none without it), ADDON_NAME (default 'Parking pass'),
// ADDON_PRICE (default 12), ADDON_MAX (the most a cart may have, default 4).

const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');
const pg = require('pg');

// bigint ids as JavaScript numbers while they are exact (ids of this demo
// are), else as strings.
pg.types.setTypeParser(20, (v) => {
	const n = Number(v);
	return Number.isSafeInteger(n) ? n : v;
});

const config = {
	port: Number(process.env.PORT || 8080),
	host: process.env.HOST || '127.0.0.1',
	showId: process.env.SHOW_ID ? Number(process.env.SHOW_ID) : null,
	title: process.env.SHOW_TITLE || null,
	subtitle: process.env.SHOW_SUBTITLE || '',
	venue: process.env.VENUE || 'The Harbour Playhouse',
	holdFor: process.env.HOLD_FOR || '10 minutes',
	prices: parsePrices(process.env.SECTION_PRICES),
	quiet: process.env.SEATMAP_QUIET === '1',
	role: process.env.RPC_ROLE || 'authenticated',
	anonRole: process.env.ANON_ROLE || 'anon',
	claim: null, // booking.holder_claim of the database, read at start
	addon: process.env.ADDON_POOL_ID
		? {
				pool_id: Number(process.env.ADDON_POOL_ID),
				name: process.env.ADDON_NAME || 'Parking pass',
				price: Number(process.env.ADDON_PRICE || 12),
				max: Number(process.env.ADDON_MAX || 4),
			}
		: null,
};

function parsePrices(text) {
	const defaults = { Stalls: 65, 'Dress Circle': 48, 'Upper Circle': 29 };
	if (!text) return defaults;
	try {
		return JSON.parse(text);
	} catch {
		console.warn('SECTION_PRICES is not JSON; using the default prices');
		return defaults;
	}
}

function log(...args) {
	if (!config.quiet) console.log(new Date().toISOString(), ...args);
}

// ------------------------------------------------------------------ database

const pool = new pg.Pool({ max: 10, application_name: 'seatmap' });
pool.on('error', (err) => log('idle pool connection lost:', err.message));

class HttpError extends Error {
	constructor(status, code, message, extra = {}) {
		super(message);
		this.status = status;
		this.code = code;
		Object.assign(this, extra);
	}
}

// SQLSTATE -> HTTP status as PostgREST answers (mapSQLtoHTTP in its
// src/library/PostgREST/Error.hs; docs/rpc.md, section 6). authed: the
// request ran as a signed-in role, not the anonymous one (42501 is 403 for
// the first, 401 for the second).
const STATUS_OF_CODE = {
	'23503': 409,
	'23505': 409,
	'25006': 405,
	'53400': 500,
	'57P01': 503,
	'P0001': 400,
	'42883': 404,
	'42P01': 404,
	'42P17': 500,
};
const STATUS_OF_CLASS = {
	'08': 503,
	'09': 500,
	'0L': 403,
	'0P': 403,
	'25': 500,
	'28': 403,
	'2D': 500,
	'38': 500,
	'39': 500,
	'3B': 500,
	'40': 500,
	'53': 503,
	'54': 500,
	'55': 500,
	'57': 500,
	'58': 500,
	'F0': 500,
	'HV': 500,
	'P0': 500,
	'XX': 500,
};

function httpStatusOf(err, authed) {
	const code = err.code;
	const message = err.message || '';
	if (!code) return 500;
	if (/^E[A-Z]+$/.test(code)) return 503; // ECONNREFUSED and friends: no database (PostgREST: 503)
	if (code === '42501') return authed ? 403 : 401;
	if (code === '21000') return message.endsWith('requires a WHERE clause') ? 400 : 500;
	if (code === '22023') return message.startsWith('role') && message.endsWith('does not exist') ? 401 : 400;
	if (STATUS_OF_CODE[code]) return STATUS_OF_CODE[code];
	const pt = /^PT(\d+)$/.exec(code); // PTxyz: HTTP xyz
	if (pt) return Number(pt[1]) >= 100 && Number(pt[1]) <= 599 ? Number(pt[1]) : 500;
	return STATUS_OF_CLASS[code.slice(0, 2)] ?? 400;
}

// The contract's customer calls this server exposes, with the arguments a
// request may pass (hold_for and payment_ref are the server's). holder is
// passed on when the request names it; reserve_* declare it without a
// default, so it is NULL otherwise, as a PostgREST client sends holder: null.
// set: SETOF (a JSON array); stable: a READ ONLY transaction even over POST.
const RPC = {
	reserve_seats: { client: ['show_id', 'seat_ids', 'holder', 'idempotency_key'], needsHolder: true, holdFor: true },
	reserve_best_available: {
		client: ['show_id', 'quantity', 'holder', 'section', 'idempotency_key'],
		needsHolder: true,
		holdFor: true,
	},
	confirm: { client: ['booking_id', 'holder'], paymentRef: true },
	release: { client: ['booking_id', 'holder'] },
	extend_hold: { client: ['booking_id', 'holder'], holdFor: true },
	// A cart of seats and an add-on, all or nothing, and its one hold.
	reserve_order: { client: ['items', 'holder', 'idempotency_key'], needsHolder: true, holdFor: true },
	confirm_order: { client: ['order_id', 'holder'], paymentRef: true },
	release_order: { client: ['order_id', 'holder'] },
	extend_order: { client: ['order_id', 'holder'], holdFor: true },
	my_bookings: { client: ['holder'], stable: true, set: true },
	availability: { client: ['pool_id'], stable: true },
};

const ARG_TYPES = {
	show_id: 'id',
	booking_id: 'id',
	order_id: 'id',
	pool_id: 'id',
	quantity: 'int',
	items: 'json',
	seat_ids: 'ids',
	section: 'text',
	holder: 'text',
	idempotency_key: 'text',
};

function checkArg(name, value) {
	const bad = (what) => new HttpError(400, '22023', `${name} must be ${what}`);
	const isInt = (v) => (Number.isSafeInteger(v) || (typeof v === 'string' && /^-?\d{1,19}$/.test(v)));
	switch (ARG_TYPES[name]) {
		case 'id':
		case 'int':
			if (value !== null && !isInt(value)) throw bad('an integer');
			return value;
		case 'ids':
			if (value !== null && (!Array.isArray(value) || !value.every((v) => v === null || isInt(v))))
				throw bad('an array of integers');
			return value;
		case 'text':
			if (value !== null && typeof value !== 'string') throw bad('a string');
			return value;
		case 'json':
			// A jsonb argument: the request's JSON as it is (the extension
			// checks the items and names a bad one by its index).
			if (value !== null && !Array.isArray(value)) throw bad('an array');
			return value === null ? null : JSON.stringify(value);
		default:
			throw bad('known');
	}
}

// One request as PostgREST runs it (PreQuery.hs txVarQuery; the order of
// its settings): a transaction, READ ONLY for GET and STABLE functions;
// the role (set_config('role', ..., true) is SET LOCAL ROLE) and the
// claims, which always carry "role"; then the call, as that role. user: the
// browser's id, or null (the anonymous role, claims without "sub").
// PostgREST also sets request.headers and request.cookies; booking reads
// neither, and the cookie is the credential, so they are left out.
async function asRequest(user, { method, path, readOnly }, sql, values) {
	const role = user === null ? config.anonRole : config.role;
	const claims = user === null ? { role } : { [config.claim]: user, role };
	const client = await pool.connect();
	let broken;
	try {
		await client.query(`BEGIN ISOLATION LEVEL READ COMMITTED ${readOnly ? 'READ ONLY' : 'READ WRITE'}`);
		await client.query(
			"SELECT set_config('search_path', '\"booking\", \"public\"', true), set_config('role', $1, true)," +
				" set_config('request.jwt.claims', $2, true), set_config('request.method', $3, true)," +
				" set_config('request.path', $4, true)",
			[role, JSON.stringify(claims), method, path],
		);
		const { rows } = await client.query(sql, values);
		await client.query('COMMIT');
		return rows;
	} catch (err) {
		await client.query('ROLLBACK').catch((e) => {
			broken = e; // the connection is gone: drop it from the pool
		});
		err.authed = user !== null;
		throw err;
	} finally {
		client.release(broken);
	}
}

// One call of booking.<fn> with named arguments, for user (see asRequest);
// the result row as a JSON object, or the rows as an array (set).
async function callRpc(fn, method, args, user) {
	const spec = RPC[fn];
	const names = [];
	const values = [];
	for (const name of spec.client) {
		if (args[name] === undefined) continue;
		names.push(name);
		values.push(checkArg(name, args[name]));
	}
	if (spec.needsHolder && args.holder === undefined) {
		names.push('holder');
		values.push(null);
	}
	if (spec.holdFor) {
		names.push('hold_for');
		values.push(config.holdFor);
	}
	if (spec.paymentRef) {
		// The fake payment step: a made-up reference of the "provider".
		names.push('payment_ref');
		values.push('demo_' + crypto.randomBytes(9).toString('base64url'));
	}
	const call = `booking.${fn}(${names.map((n, i) => `${n} => $${i + 1}`).join(', ')}) AS r`;
	const sql = spec.set
		? `SELECT coalesce(json_agg(r), '[]') AS result FROM ${call}`
		: `SELECT to_json(r) AS result FROM ${call}`;
	const readOnly = method === 'GET' || Boolean(spec.stable);
	const rows = await asRequest(user, { method, path: `/rpc/${fn}`, readOnly }, sql, values);
	return rows[0].result;
}

const SEATS_SQL = `
SELECT s.seat_id, s.section, s.row_label, s.number, s.status, s.booking_id, s.order_id,
       extract(epoch FROM s.held_until) * 1000 AS held_until, b.holder
  FROM booking.seats s LEFT JOIN booking.bookings b ON b.booking_id = s.booking_id
 WHERE s.show_id = $1 AND ($2::bigint[] IS NULL OR s.seat_id = ANY ($2))
 ORDER BY s.seat_id`;

// Seats of a show (all, or the given ids) with their holders.
async function readSeats(showId, ids = null) {
	const { rows } = await pool.query(SEATS_SQL, [showId, ids]);
	return rows.map((r) => ({ ...r, held_until: r.held_until === null ? null : Math.round(Number(r.held_until)) }));
}

// What one browser may see of a seat: its state, and the booking (and its
// order, if any) only when the seat is its own.
function seatView(row, holder, full) {
	const mine = row.status !== 'available' && row.holder === holder;
	const v = { id: row.seat_id, status: row.status, held_until: row.held_until, mine };
	if (mine) {
		v.booking_id = row.booking_id;
		v.order_id = row.order_id;
	}
	if (full) {
		v.section = row.section;
		v.row = row.row_label;
		v.number = row.number;
	}
	return v;
}

// ------------------------------------------------------------------ live shows

// Per show: the open event streams, a queue that runs the show's reads one
// at a time (so every stream sees states in commit order), and a timer for
// the next hold to lapse (a lapse is seen at read time and sends no
// notification, so the server looks again when it is due).
const shows = new Map();

function showState(showId) {
	let s = shows.get(showId);
	if (!s) {
		s = { id: showId, clients: new Set(), queue: Promise.resolve(), held: new Map(), timer: null, pending: null };
		shows.set(showId, s);
		listener.listen(showId);
	}
	return s;
}

function enqueue(show, job) {
	show.queue = show.queue.then(job).catch((err) => log(`show ${show.id}:`, err.message));
	return show.queue;
}

function send(client, event, data) {
	client.res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

function noteHolds(show, rows) {
	for (const r of rows) {
		if (r.status === 'held' && r.held_until !== null) show.held.set(r.seat_id, r.held_until);
		else show.held.delete(r.seat_id);
	}
	clearTimeout(show.timer);
	show.timer = null;
	if (show.held.size === 0 || show.clients.size === 0) return;
	const next = Math.min(...show.held.values());
	show.timer = setTimeout(() => {
		const now = Date.now();
		const due = [...show.held].filter(([, until]) => until <= now).map(([id]) => id);
		if (due.length) changed(show.id, due);
		else noteHolds(show, []);
	}, Math.max(0, next - Date.now()) + 100);
	show.timer.unref();
}

// The full map, to one new stream (initial) or to all (after a reconnect).
function sendSnapshot(show, targets) {
	return enqueue(show, async () => {
		const rows = await readSeats(show.id);
		noteHolds(show, rows);
		for (const c of targets) {
			if (!show.clients.has(c)) continue;
			send(c, 'snapshot', { now: Date.now(), seats: rows.map((r) => seatView(r, c.holder, true)) });
		}
	});
}

// Seats changed (a notification, or a hold lapsed): read them once, tell
// every stream. Notifications arriving together are read together.
function changed(showId, ids) {
	const show = shows.get(showId);
	if (!show || show.clients.size === 0) return;
	if (show.pending) {
		for (const id of ids) show.pending.add(id);
		return;
	}
	show.pending = new Set(ids);
	setTimeout(() => {
		const batch = [...show.pending];
		show.pending = null;
		enqueue(show, async () => {
			const rows = await readSeats(show.id, batch);
			noteHolds(show, rows);
			for (const c of show.clients)
				send(c, 'seats', { now: Date.now(), seats: rows.map((r) => seatView(r, c.holder, false)) });
		});
	}, 15);
}

// ------------------------------------------------------------------ LISTEN

// One dedicated connection for LISTEN. When it drops (server restart,
// pg_terminate_backend, network), it reconnects with backoff, LISTENs again
// and resends every open map, since notifications in between are lost.
class Listener {
	constructor() {
		this.client = null;
		this.connected = false;
		this.channels = new Set();
		this.delay = 250;
		this.closing = false;
		this.pingTimer = null;
	}

	listen(showId) {
		const channel = `booking_show_${Number(showId)}`;
		if (this.channels.has(channel)) return;
		this.channels.add(channel);
		if (this.connected) this.client.query(`LISTEN ${channel}`).catch((err) => this.lost(err));
	}

	async connect() {
		if (this.closing) return;
		const client = new pg.Client({ application_name: 'seatmap-listener', keepAlive: true });
		this.client = client;
		client.on('notification', (msg) => {
			const m = /^booking_show_(\d+)$/.exec(msg.channel);
			if (!m) return;
			const ids = (msg.payload || '').split(',').filter(Boolean).map(Number);
			changed(Number(m[1]), ids);
		});
		client.on('error', (err) => this.lost(err));
		client.on('end', () => this.lost(new Error('connection ended')));
		try {
			await client.connect();
			for (const channel of this.channels) await client.query(`LISTEN ${channel}`);
		} catch (err) {
			this.lost(err);
			return;
		}
		if (this.client !== client) return;
		this.connected = true;
		this.delay = 250;
		log(`listening on ${[...this.channels].join(', ') || '(no show yet)'}`);
		// A silently dead connection is found by a ping.
		this.pingTimer = setInterval(() => {
			client.query('SELECT 1').catch((err) => this.lost(err));
		}, 15000);
		this.pingTimer.unref();
		// Changes made while no connection listened were not heard: resend.
		for (const show of shows.values()) {
			for (const c of show.clients) send(c, 'live', { connected: true });
			if (show.clients.size) sendSnapshot(show, [...show.clients]);
		}
	}

	lost(err) {
		const client = this.client;
		if (!client) return;
		this.client = null;
		this.connected = false;
		clearInterval(this.pingTimer);
		client.removeAllListeners('end');
		client.removeAllListeners('error');
		client.on('error', () => {});
		client.end().catch(() => {});
		if (this.closing) return;
		log(`LISTEN connection lost (${err.message}); reconnecting in ${this.delay} ms`);
		for (const show of shows.values()) for (const c of show.clients) send(c, 'live', { connected: false });
		setTimeout(() => this.connect(), this.delay).unref();
		this.delay = Math.min(this.delay * 2, 5000);
	}

	async close() {
		this.closing = true;
		clearInterval(this.pingTimer);
		if (this.client) await this.client.end().catch(() => {});
	}
}

const listener = new Listener();

// ------------------------------------------------------------------ HTTP

const PUBLIC = path.join(__dirname, 'public');
const STATIC = {
	'/': ['index.html', 'text/html; charset=utf-8'],
	'/index.html': ['index.html', 'text/html; charset=utf-8'],
	'/style.css': ['style.css', 'text/css; charset=utf-8'],
	'/app.js': ['app.js', 'text/javascript; charset=utf-8'],
};

const HOLDER_COOKIE = 'seatmap_holder';

// This browser's id, from its HttpOnly cookie; null without one. It is the
// demo's stand-in for the signed JWT of a signed-in user: in production
// PostgREST verifies the JWT's signature and the claims come from it. A
// cookie that is no id is, as a JWT that fails verification is to
// PostgREST, a 401 (PGRST301) when strict, else no id.
function userOf(req, strict = false) {
	const cookies = Object.fromEntries(
		(req.headers.cookie || '')
			.split(';')
			.map((c) => c.trim().split('='))
			.filter((p) => p.length === 2),
	);
	const id = cookies[HOLDER_COOKIE];
	if (id === undefined) return null;
	if (/^[0-9a-f-]{36}$/.test(id)) return id;
	if (!strict) return null;
	throw new HttpError(401, 'PGRST301', `cookie ${HOLDER_COOKIE} is not a browser id`, {
		headers: { 'WWW-Authenticate': 'Bearer error="invalid_token"' },
	});
}

// The demo's sign-in: a page (the map, its data) gives a browser without an
// id a new random one. The calls (/rpc/*) never do: without the cookie they
// run as the anonymous role.
function signIn(req, res) {
	let id = userOf(req);
	if (id === null) {
		id = crypto.randomUUID();
		res.setHeader(
			'Set-Cookie',
			`${HOLDER_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${60 * 60 * 24 * 30}`,
		);
	}
	return id;
}

function json(res, status, body, headers = {}) {
	const text = JSON.stringify(body);
	res.writeHead(status, {
		'Content-Type': 'application/json; charset=utf-8',
		'Cache-Control': 'no-store',
		'Content-Length': Buffer.byteLength(text),
		...headers,
	});
	res.end(text);
}

// Errors as PostgREST sends them: {code, message, details, hint}, and a 401
// with WWW-Authenticate: Bearer.
function fail(res, err) {
	if (err instanceof HttpError) {
		return json(res, err.status, { code: err.code, message: err.message, details: null, hint: null }, err.headers);
	}
	// The server's own reads run as a trusted login, not as a request's role.
	const status = httpStatusOf(err, err.authed !== false);
	if (status >= 500) log('error:', err.message);
	json(
		res,
		status,
		{
			code: err.code || null,
			message: status >= 500 && !err.code ? 'internal error' : err.message,
			details: err.detail || null,
			hint: err.hint || null,
		},
		status === 401 ? { 'WWW-Authenticate': 'Bearer' } : {},
	);
}

function readBody(req) {
	return new Promise((resolve, reject) => {
		let size = 0;
		const chunks = [];
		req.on('data', (c) => {
			size += c.length;
			if (size > 256 * 1024) {
				reject(new HttpError(413, null, 'request body too large'));
				req.destroy();
			} else chunks.push(c);
		});
		req.on('end', () => {
			const text = Buffer.concat(chunks).toString('utf8');
			if (!text) return resolve({});
			try {
				const body = JSON.parse(text);
				if (body === null || typeof body !== 'object' || Array.isArray(body))
					throw new Error('not an object');
				resolve(body);
			} catch {
				reject(new HttpError(400, '22P02', 'the request body must be a JSON object'));
			}
		});
		req.on('error', reject);
	});
}

function showIdOf(url) {
	const raw = url.searchParams.get('show_id') ?? (config.showId === null ? null : String(config.showId));
	if (raw === null || !/^\d{1,18}$/.test(raw)) throw new HttpError(400, '22023', 'show_id must be an integer');
	return Number(raw);
}

// The number of seats of a show; PT404 when it has none.
async function seatCount(showId) {
	const { rows } = await pool.query('SELECT count(*)::int AS n FROM booking.seats WHERE show_id = $1', [showId]);
	if (rows[0].n === 0) throw new HttpError(404, 'PT404', `show ${showId} has no seats (or does not exist)`);
	return rows[0].n;
}

function openEvents(req, res, showId, holder) {
	res.writeHead(200, {
		'Content-Type': 'text/event-stream; charset=utf-8',
		'Cache-Control': 'no-store',
		Connection: 'keep-alive',
		'X-Accel-Buffering': 'no',
	});
	res.write('retry: 1000\n\n');
	const show = showState(showId);
	const client = { res, holder };
	show.clients.add(client);
	send(client, 'live', { connected: listener.connected });
	sendSnapshot(show, [client]);
	const ping = setInterval(() => res.write(': ping\n\n'), 15000);
	req.on('close', () => {
		clearInterval(ping);
		show.clients.delete(client);
	});
}

async function handle(req, res) {
	const url = new URL(req.url, 'http://localhost');
	const route = url.pathname;

	if (req.method === 'GET' && STATIC[route]) {
		const [file, type] = STATIC[route];
		const body = await fs.promises.readFile(path.join(PUBLIC, file));
		if (file === 'index.html') signIn(req, res); // set the cookie early
		res.writeHead(200, { 'Content-Type': type, 'Cache-Control': 'no-cache' });
		return res.end(body);
	}
	if (req.method === 'GET' && route === '/favicon.ico') {
		res.writeHead(204);
		return res.end();
	}
	if (req.method === 'GET' && route === '/healthz') {
		await pool.query('SELECT 1');
		return json(res, 200, { ok: true, listening: listener.connected });
	}
	if (req.method === 'GET' && route === '/api/show') {
		const showId = showIdOf(url);
		const seats = await seatCount(showId);
		return json(res, 200, {
			show_id: showId,
			seats,
			title: config.title || `Show ${showId}`,
			subtitle: config.subtitle,
			venue: config.venue,
			hold_for: config.holdFor,
			prices: config.prices,
			addon: config.addon,
		});
	}
	if (req.method === 'GET' && route === '/api/seats') {
		const showId = showIdOf(url);
		const holder = signIn(req, res);
		const ids = url.searchParams.get('seat_ids');
		const list = ids ? ids.split(',').map((v) => checkArg('seat_ids', [v])[0]) : null;
		const rows = await readSeats(showId, list);
		return json(res, 200, rows.map((r) => seatView(r, holder, true)));
	}
	if (req.method === 'GET' && route === '/api/events') {
		const showId = showIdOf(url);
		await seatCount(showId); // LISTEN only for shows that exist
		return openEvents(req, res, showId, signIn(req, res));
	}
	const rpc = /^\/rpc\/([a-z_]+)$/.exec(route);
	if (rpc && RPC[rpc[1]]) {
		// As PostgREST: POST with a JSON body, or GET with the arguments in the
		// query string (a READ ONLY transaction, so a state change is 25006).
		if (req.method !== 'POST' && req.method !== 'GET') throw new HttpError(405, null, 'use GET or POST');
		const args = req.method === 'GET' ? Object.fromEntries(url.searchParams) : await readBody(req);
		const result = await callRpc(rpc[1], req.method, args, userOf(req, true));
		log(`${rpc[1]} ${JSON.stringify(args)} -> ${Array.isArray(result) ? `${result.length} rows` : (result.status ?? 'ok')}`);
		return json(res, 200, result);
	}
	throw new HttpError(404, 'PT404', `no route ${req.method} ${route}`);
}

const server = http.createServer((req, res) => {
	handle(req, res).catch((err) => {
		if (res.headersSent) return res.destroy();
		fail(res, err);
	});
});

let stopping = false;
async function shutdown(signal) {
	if (stopping) return;
	stopping = true;
	log(`${signal}: stopping`);
	for (const show of shows.values()) for (const c of show.clients) c.res.end();
	server.close();
	await listener.close();
	await pool.end().catch(() => {});
	process.exit(0);
}
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('SIGTERM', () => shutdown('SIGTERM'));

// The holder of every call is the claim booking.holder_claim names; the
// server will not run without it, since then the database would take the
// holder argument (NULL) as it is.
async function start() {
	const { rows } = await pool.query("SELECT current_setting('booking.holder_claim', true) AS claim");
	config.claim = rows[0].claim;
	if (!config.claim) {
		console.error(
			'booking.holder_claim is not set in this database: run create-show.js, which runs' +
				" ALTER DATABASE ... SET booking.holder_claim = 'sub'",
		);
		process.exit(1);
	}
	if (config.addon) {
		// The add-on's pool must exist (PT404 otherwise): the page sells it.
		const { rows: left } = await pool.query('SELECT available FROM booking.availability(pool_id => $1)', [
			config.addon.pool_id,
		]);
		log(`add-on "${config.addon.name}": pool ${config.addon.pool_id}, ${left[0].available} left`);
	}
	listener.connect();
	if (config.showId !== null) listener.listen(config.showId);
	server.listen(config.port, config.host, () => {
		const addr = server.address();
		log(`seat map on http://${addr.address}:${addr.port}/ (calls as ${config.role}, holder = claim "${config.claim}")`);
	});
}

start().catch((err) => {
	console.error(`seatmap: ${err.message}${err.code ? ` (SQLSTATE ${err.code})` : ''}`);
	process.exit(1);
});
