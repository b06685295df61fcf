'use strict';
// Set the database up for browser calls (docs/rpc.md), then create the demo
// show and its add-on through the contract's organiser calls and print
// their ids, "<show id> <add-on pool id>": booking.create_show(name,
// notify => true), then booking.add_seats for every block of every row (a
// gap in the numbering is an aisle), then booking.create_pool for the
// add-on sold with the seats (a parking pass: capacity, at most --addon-max
// per buyer).
//
//   node create-show.js [--name "Hamlet"] [--presold 0.2]
//                       [--addon "Parking pass"] [--addon-capacity 40] [--addon-max 4]
//
// The setup, idempotent (run as a superuser): CREATE EXTENSION IF NOT
// EXISTS booking; the roles of a PostgREST deployment when missing:
// anon and authenticated (NOLOGIN; RPC_ROLE and ANON_ROLE rename them) and
// the server's login, seatmap (SEATMAP_LOGIN; LOGIN NOINHERIT, PostgREST's
// authenticator), which may switch to both; SELECT on booking.seats and
// booking.bookings for that login, for the live map the server draws
// itself; and ALTER DATABASE <this one> SET booking.holder_claim = 'sub'.
// The customer functions are PUBLIC's already; the ones the page calls
// (the server's RPC list, orders included) are granted to the signed-in
// role as well, so the demo keeps working where a DBA took them from
// PUBLIC as docs/rpc.md suggests. Orders need booking 1.6: an older
// installed version is an error (ALTER EXTENSION booking UPDATE).
//
// --presold sells that share of the seats first, in small groups, the way
// other buyers would (booking.reserve_seats + booking.confirm), so the map
// looks like a real evening. The pattern is fixed, so runs look alike.
// Connection from the PG* environment variables.

const pg = require('pg');

// section, rows, and the seat blocks of a row as [first_number, count].
const LAYOUT = [
	{
		section: 'Stalls',
		rows: 'ABCDEFGHIJ'.split(''),
		blocks: (i) => {
			const n = i === 0 ? 8 : i === 1 ? 9 : 10;
			return [
				[1, n],
				[n + 2, n],
			];
		},
	},
	{
		section: 'Dress Circle',
		rows: 'ABCDE'.split(''),
		blocks: () => [
			[1, 6],
			[8, 12],
			[21, 6],
		],
	},
	{
		section: 'Upper Circle',
		rows: 'ABCD'.split(''),
		blocks: (i) => {
			const side = i < 2 ? 6 : 7;
			return [
				[1, side],
				[side + 2, 14],
				[side + 16, side],
			];
		},
	},
];

// The customer calls the page makes (server.js, RPC).
const PAGE_CALLS = [
	'reserve_seats',
	'reserve_best_available',
	'confirm',
	'release',
	'extend_hold',
	'reserve_order',
	'confirm_order',
	'release_order',
	'extend_order',
	'my_bookings',
	'availability',
];

function arg(name, fallback) {
	const i = process.argv.indexOf(name);
	return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

// A small deterministic PRNG (mulberry32).
function rng(seed) {
	return () => {
		seed = (seed + 0x6d2b79f5) | 0;
		let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
		t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
		return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
	};
}

// The roles, grants and setting of the header comment.
async function setup(client) {
	const id = (name) => client.escapeIdentifier(name);
	const lit = (text) => client.escapeLiteral(text);
	const role = process.env.RPC_ROLE || 'authenticated';
	const anon = process.env.ANON_ROLE || 'anon';
	const login = process.env.SEATMAP_LOGIN || 'seatmap';
	await client.query('CREATE EXTENSION IF NOT EXISTS booking');
	const { rows: ext } = await client.query(
		"SELECT extversion, to_regprocedure('booking.reserve_order(jsonb,text,interval,text,text)') AS orders" +
			" FROM pg_catalog.pg_extension WHERE extname = 'booking'",
	);
	if (ext[0].orders === null)
		throw new Error(`booking ${ext[0].extversion} has no orders; run ALTER EXTENSION booking UPDATE (1.6 or later)`);
	for (const [name, attributes] of [
		[anon, 'NOLOGIN'],
		[role, 'NOLOGIN'],
		[login, 'LOGIN NOINHERIT'],
	]) {
		// Another setup may create it at the same time.
		await client.query(`DO $$ BEGIN
			IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = ${lit(name)}) THEN
				CREATE ROLE ${id(name)} ${attributes};
			END IF;
		EXCEPTION WHEN duplicate_object THEN NULL;
		END $$`);
	}
	await client.query(`GRANT ${id(anon)}, ${id(role)} TO ${id(login)}`);
	await client.query(`GRANT SELECT ON booking.seats, booking.bookings TO ${id(login)}`);
	const { rows: calls } = await client.query(
		"SELECT p.oid::regprocedure AS fn FROM pg_catalog.pg_proc p WHERE p.pronamespace = 'booking'::regnamespace" +
			' AND p.proname = ANY ($1) ORDER BY 1',
		[PAGE_CALLS],
	);
	await client.query(`GRANT EXECUTE ON FUNCTION ${calls.map((r) => r.fn).join(', ')} TO ${id(role)}`);
	const { rows } = await client.query('SELECT current_database() AS db');
	await client.query(`ALTER DATABASE ${id(rows[0].db)} SET booking.holder_claim = 'sub'`);
}

async function main() {
	const name = arg('--name', 'Hamlet');
	const presold = Number(arg('--presold', '0'));
	const addon = arg('--addon', 'Parking pass');
	const addonCapacity = Number(arg('--addon-capacity', '40'));
	const addonMax = Number(arg('--addon-max', '4'));
	const client = new pg.Client({ application_name: 'seatmap-setup' });
	await client.connect();
	try {
		await setup(client);
		const show = await client.query('SELECT booking.create_show(name => $1, notify => true) AS id', [name]);
		const showId = show.rows[0].id;
		const rows = []; // every row's blocks of seat ids
		for (const s of LAYOUT) {
			for (const [i, row] of s.rows.entries()) {
				const blocks = [];
				for (const [first, count] of s.blocks(i)) {
					const r = await client.query(
						'SELECT booking.add_seats(show_id => $1, section => $2, row_label => $3,' +
							' first_number => $4, count => $5) AS ids',
						[showId, s.section, row, first, count],
					);
					blocks.push(r.rows[0].ids.map(Number));
				}
				rows.push({ section: s.section, row, blocks });
			}
		}
		if (presold > 0) {
			const random = rng(20261212);
			for (const { section, row, blocks } of rows) {
				// Front stalls and the centre sell first; leave some rows easy.
				const demand = section === 'Stalls' ? 1.2 : section === 'Dress Circle' ? 1.0 : 0.7;
				if (row === 'E' || row === 'F') continue; // keep the test's rows free
				for (const block of blocks) {
					let i = 0;
					while (i < block.length) {
						const group = 2 + Math.floor(random() * 3);
						if (random() < presold * demand) {
							const ids = block.slice(i, i + group);
							const held = await client.query(
								'SELECT booking_id, status FROM booking.reserve_seats(show_id => $1, seat_ids => $2,' +
									" holder => $3, hold_for => '5 minutes')",
								[showId, ids, 'box-office'],
							);
							if (held.rows[0].status === 'held') {
								await client.query(
									'SELECT status FROM booking.confirm(booking_id => $1, holder => $2, payment_ref => $3)',
									[held.rows[0].booking_id, 'box-office', `boxoffice-${held.rows[0].booking_id}`],
								);
							}
						}
						i += group;
					}
				}
			}
		}
		const pool = await client.query(
			'SELECT booking.create_pool(capacity => $1, name => $2, max_per_holder => $3) AS id',
			[addonCapacity, `${name}: ${addon}`, addonMax],
		);
		console.log(`${showId} ${pool.rows[0].id}`);
	} finally {
		await client.end();
	}
}

main().catch((err) => {
	console.error(`create-show: ${err.message}${err.code ? ` (SQLSTATE ${err.code})` : ''}`);
	process.exit(1);
});
