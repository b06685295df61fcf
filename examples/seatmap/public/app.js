'use strict';
// The seat map page. State comes from the server's event stream (the whole
// map first, then every change); actions are one RPC each:
//   Hold          POST /rpc/reserve_seats           {show_id, seat_ids}
//                 POST /rpc/reserve_order           {items: [{show_id, seat_ids}, {pool_id, quantity}]}
//                 (a cart with the add-on: the seats and the add-on all or nothing)
//   Find seats    POST /rpc/reserve_best_available  {show_id, quantity, section}
//   Pay           POST /rpc/confirm                 {booking_id}   (an order: confirm_order {order_id})
//   Release       POST /rpc/release                 {booking_id}   (an order: release_order {order_id})
//   More time     POST /rpc/extend_hold             {booking_id}   (an order: extend_order {order_id})
// and the reads GET /rpc/my_bookings (the add-on bookings, at load) and
// GET /rpc/availability?pool_id= (how many add-ons are left).
// The server runs every call as this browser's signed-in user (its id, in
// a cookie, is the call's "sub" claim and so its holder).

(() => {
	const params = new URLSearchParams(location.search);
	const showParam = params.get('show') || params.get('show_id');

	const BANDS = ['--stalls', '--dress', '--upper'];
	const money = new Intl.NumberFormat('en-GB', { style: 'currency', currency: 'GBP', maximumFractionDigits: 0 });

	const state = {
		showId: null,
		show: null,
		seats: new Map(), // id -> seat
		sections: [], // [{name, band, price}]
		selected: new Set(),
		clockOffset: 0, // server clock - this clock, in ms
		busy: false,
		built: false,
		holdTotal: null, // ms of the current hold, for the bar
		addon: null, // {pool_id, name, price, max} of the show, or null
		addonLeft: null, // the add-on's spots left, as last read
		addons: new Map(), // booking_id -> {booking_id, order_id, quantity, status, held_until} of my add-ons
	};

	const $ = (id) => document.getElementById(id);

	// ------------------------------------------------------------ server calls

	async function rpc(fn, args) {
		const res = await fetch(`/rpc/${fn}`, {
			method: 'POST',
			headers: { 'Content-Type': 'application/json' },
			body: JSON.stringify(args),
			credentials: 'same-origin',
		});
		const body = await res.json().catch(() => ({}));
		if (!res.ok) {
			const err = new Error(body.message || `HTTP ${res.status}`);
			err.status = res.status;
			err.code = body.code;
			throw err;
		}
		return body;
	}

	// A STABLE call over GET (a READ ONLY transaction, as PostgREST runs it).
	async function rpcGet(fn, args = {}) {
		const res = await fetch(`/rpc/${fn}?${new URLSearchParams(args)}`, { credentials: 'same-origin' });
		const body = await res.json().catch(() => ({}));
		if (!res.ok) throw new Error(body.message || `HTTP ${res.status}`);
		return body;
	}

	function newKey() {
		return crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`;
	}

	// ------------------------------------------------------------ labels

	function seatLabel(s) {
		return `${s.row}-${s.number}`;
	}

	// "Stalls E-9, E-10" (grouped by section, in map order).
	function describeSeats(ids) {
		const bySection = new Map();
		const list = ids
			.map((id) => state.seats.get(Number(id)))
			.filter(Boolean)
			.sort((a, b) => a.order - b.order);
		for (const s of list) {
			if (!bySection.has(s.section)) bySection.set(s.section, []);
			bySection.get(s.section).push(seatLabel(s));
		}
		return [...bySection].map(([section, labels]) => `${section} ${labels.join(', ')}`).join('; ');
	}

	// "Parking pass × 2".
	function addonWords(quantity) {
		return `${state.addon.name} × ${quantity}`;
	}

	function addonQuantity() {
		return state.addon ? Number($('addon-quantity').value) : 0;
	}

	function priceOf(seat) {
		const p = state.show && state.show.prices ? state.show.prices[seat.section] : null;
		return typeof p === 'number' ? p : null;
	}

	// The price of seats and add-on bookings ({quantity}); null when one is unknown.
	function sumPrices(seats, addons = []) {
		let total = 0;
		for (const s of seats) {
			const p = priceOf(s);
			if (p === null) return null;
			total += p;
		}
		for (const a of addons) {
			if (typeof state.addon.price !== 'number') return null;
			total += state.addon.price * a.quantity;
		}
		return total;
	}

	// ------------------------------------------------------------ building the map

	function build(seats) {
		const map = $('map');
		map.textContent = '';
		const sections = new Map();
		seats.forEach((raw, order) => {
			if (!sections.has(raw.section)) sections.set(raw.section, new Map());
			const rows = sections.get(raw.section);
			if (!rows.has(raw.row)) rows.set(raw.row, []);
			rows.get(raw.row).push({ ...raw, order });
		});

		let bandIndex = 0;
		for (const [name, rows] of sections) {
			const band = `var(${BANDS[bandIndex++ % BANDS.length]})`;
			const price = state.show.prices ? state.show.prices[name] : undefined;
			state.sections.push({ name, band, price });

			const sec = document.createElement('div');
			sec.className = 'section';
			sec.dataset.section = name;
			sec.style.setProperty('--band', band);
			const title = document.createElement('h2');
			title.className = 'section-title';
			title.innerHTML = '<span class="band"></span>';
			title.append(name);
			if (typeof price === 'number') {
				const p = document.createElement('span');
				p.className = 'price';
				p.textContent = money.format(price);
				title.append(p);
			}
			sec.append(title);

			const rowsEl = document.createElement('div');
			rowsEl.className = 'rows';
			const curve = name === 'Stalls' ? 5 : 9;
			for (const [label, list] of rows) {
				list.sort((a, b) => a.number - b.number);
				const rowEl = document.createElement('div');
				rowEl.className = 'row';
				rowEl.dataset.row = label;
				const left = document.createElement('span');
				left.className = 'row-label';
				left.textContent = label;
				const right = left.cloneNode(true);
				const seatsEl = document.createElement('div');
				seatsEl.className = 'row-seats';

				// Positions, aisles (gaps in the numbering) included, for the curve.
				const slots = [];
				list.forEach((s, i) => {
					if (i > 0 && s.number - list[i - 1].number > 1) slots.push({ aisle: s.number - list[i - 1].number - 1 });
					slots.push(s);
				});
				const width = slots.reduce((n, x) => n + (x.aisle ? Math.min(x.aisle, 2) : 1), 0);
				let pos = 0;
				for (const slot of slots) {
					if (slot.aisle) {
						const gap = document.createElement('span');
						gap.className = 'aisle';
						gap.style.setProperty('--aisle', `calc(${Math.min(slot.aisle, 2)} * var(--seat))`);
						seatsEl.append(gap);
						pos += Math.min(slot.aisle, 2);
						continue;
					}
					const c = (width - 1) / 2;
					const dy = c > 0 ? -curve * ((pos - c) / c) ** 2 : 0;
					seatsEl.append(makeSeat(slot, band, price, dy));
					pos += 1;
				}
				rowEl.append(left, seatsEl, right);
				rowsEl.append(rowEl);
			}
			sec.append(rowsEl);
			map.append(sec);
		}
		map.setAttribute('aria-busy', 'false');

		const select = $('best-section');
		for (const s of state.sections) {
			const o = document.createElement('option');
			o.value = s.name;
			o.textContent = s.name;
			select.append(o);
		}
		state.built = true;
	}

	function makeSeat(raw, band, price, dy) {
		const el = document.createElement('button');
		el.type = 'button';
		el.className = 'seat';
		el.textContent = raw.number;
		el.dataset.seatId = raw.id;
		el.dataset.label = seatLabel(raw);
		el.dataset.section = raw.section;
		el.style.setProperty('--band', band);
		el.style.setProperty('--dy', `${dy.toFixed(1)}px`);
		const seat = {
			id: raw.id,
			section: raw.section,
			row: raw.row,
			number: raw.number,
			order: raw.order,
			band,
			status: 'available',
			held_until: null,
			mine: false,
			booking_id: null,
			order_id: null,
			el,
			priceText: typeof price === 'number' ? ` · ${money.format(price)}` : '',
		};
		el.addEventListener('click', () => toggle(seat));
		state.seats.set(seat.id, seat);
		return el;
	}

	// ------------------------------------------------------------ seat state

	function displayState(s) {
		if (s.mine && s.status !== 'available') return 'mine';
		if (s.status === 'sold') return 'sold';
		if (s.status === 'held') return 'held';
		return state.selected.has(s.id) ? 'selected' : 'available';
	}

	function paint(s) {
		const st = displayState(s);
		const el = s.el;
		if (el.dataset.state !== st) el.dataset.state = st;
		const paid = st === 'mine' && s.status === 'sold';
		el.dataset.paid = paid ? 'true' : 'false';
		el.disabled = st === 'held' || st === 'sold' || st === 'mine';
		el.setAttribute('aria-pressed', st === 'selected' ? 'true' : 'false');
		const words = {
			available: 'available',
			selected: 'selected',
			mine: paid ? 'your ticket' : 'held for you',
			held: 'being booked by someone else',
			sold: 'sold',
		}[st];
		const text = `${s.section}, row ${s.row}, seat ${s.number}${s.priceText}: ${words}`;
		if (el.title !== text) {
			el.title = text;
			el.setAttribute('aria-label', text);
		}
	}

	// Apply seat states from the server (snapshot or change).
	function apply(list) {
		const takenFromMe = [];
		const lostOrders = new Set();
		for (const v of list) {
			const s = state.seats.get(v.id);
			if (!s) continue;
			const wasFree = s.status === 'available' && !s.mine;
			if (s.mine && s.order_id !== null && !v.mine) lostOrders.add(s.order_id);
			s.status = v.status;
			s.held_until = v.held_until;
			s.mine = Boolean(v.mine);
			s.booking_id = v.mine ? v.booking_id : null;
			s.order_id = v.mine ? (v.order_id ?? null) : null;
			if (state.selected.has(s.id) && !(s.status === 'available')) {
				state.selected.delete(s.id);
				if (!s.mine) takenFromMe.push(s.id);
			}
			if (wasFree && s.status !== 'available' && !s.mine) flash(s);
			paint(s);
		}
		// An order's items go together: its seats gone (lapsed, released
		// elsewhere), its add-on is gone too.
		for (const a of [...state.addons.values()]) if (lostOrders.has(a.order_id)) state.addons.delete(a.booking_id);
		if (takenFromMe.length && !state.busy) {
			markTaken(takenFromMe);
			showMessage('conflict', `${takenSentence(takenFromMe)} Please choose other seats.`);
		}
		renderPanel();
	}

	function takenWords(ids) {
		const one = ids.length === 1;
		return `${one ? 'seat' : 'seats'} ${describeSeats(ids)} ${one ? 'was' : 'were'} just taken`;
	}

	function takenSentence(ids) {
		return `Sorry, ${takenWords(ids)}.`;
	}

	function flash(s) {
		s.el.classList.remove('flash');
		void s.el.offsetWidth;
		s.el.classList.add('flash');
	}

	// Seats someone else just took from this buyer stay ringed until the
	// buyer moves on.
	function markTaken(ids) {
		clearTaken();
		for (const id of ids) {
			const seat = state.seats.get(Number(id));
			if (!seat) continue;
			flash(seat);
			seat.el.classList.add('taken');
		}
	}

	function clearTaken() {
		for (const el of document.querySelectorAll('.seat.taken')) el.classList.remove('taken');
	}

	function toggle(s) {
		clearTaken();
		if (displayState(s) === 'selected') state.selected.delete(s.id);
		else if (displayState(s) === 'available') state.selected.add(s.id);
		else return;
		paint(s);
		renderPanel();
	}

	// ------------------------------------------------------------ the side panel

	// What this buyer has, as it is paid, extended and released: a single
	// booking (its seats), or an order (its seats and its add-on, one hold).
	function myBookings() {
		const bookings = new Map();
		const unit = (b) => {
			const key = b.order_id !== null ? `order ${b.order_id}` : `booking ${b.booking_id}`;
			if (!bookings.has(key)) bookings.set(key, { ...b, seats: [], addons: [] });
			return bookings.get(key);
		};
		for (const s of state.seats.values()) {
			if (!s.mine || s.status === 'available') continue;
			const status = s.status === 'sold' ? 'confirmed' : 'held';
			unit({ booking_id: s.booking_id, order_id: s.order_id, status, held_until: s.held_until }).seats.push(s);
		}
		for (const a of state.addons.values()) unit(a).addons.push(a);
		for (const b of bookings.values()) b.seats.sort((x, y) => x.order - y.order);
		return [...bookings.values()];
	}

	function seatItem(s, removable) {
		const li = document.createElement('li');
		li.style.setProperty('--band', s.band);
		li.dataset.seatId = s.id;
		const chip = document.createElement('span');
		chip.className = 'chip';
		const where = document.createElement('span');
		where.className = 'where';
		where.innerHTML = `<strong></strong> <small></small>`;
		where.firstChild.textContent = `Row ${s.row}, seat ${s.number}`;
		where.lastChild.textContent = s.section;
		const price = document.createElement('span');
		price.className = 'price';
		const p = priceOf(s);
		price.textContent = p === null ? '' : money.format(p);
		li.append(chip, where, price);
		if (removable) {
			const x = document.createElement('button');
			x.type = 'button';
			x.className = 'remove';
			x.setAttribute('aria-label', `Remove row ${s.row} seat ${s.number}`);
			x.textContent = '×';
			x.addEventListener('click', () => toggle(s));
			li.append(x);
		}
		return li;
	}

	// A line of the add-on: "Parking pass × 1", its price.
	function addonItem(a) {
		const li = document.createElement('li');
		li.className = 'addon-item';
		li.dataset.bookingId = a.booking_id;
		li.innerHTML = '<span class="chip"></span><span class="where"><strong></strong></span><span class="price"></span>';
		li.querySelector('strong').textContent = addonWords(a.quantity);
		const p = sumPrices([], [a]);
		li.querySelector('.price').textContent = p === null ? '' : money.format(p);
		return li;
	}

	function renderAddonLeft() {
		if (!state.addon || state.addonLeft === null) return;
		const el = $('addon-left');
		el.dataset.soldOut = state.addonLeft === 0 ? 'true' : 'false';
		el.textContent = state.addonLeft === 0 ? 'Sold out' : `${state.addonLeft} left`;
	}

	function renderPanel() {
		if (!state.built) return;
		const selected = [...state.selected].map((id) => state.seats.get(id)).sort((a, b) => a.order - b.order);
		const extra = addonQuantity();
		const cart = extra ? [{ quantity: extra }] : [];
		const list = $('selection-list');
		list.replaceChildren(...selected.map((s) => seatItem(s, true)));
		$('selection-empty').hidden = selected.length > 0;
		$('selection-total').hidden = selected.length === 0 && !extra;
		const sum = sumPrices(selected, cart);
		$('selection-sum').textContent = sum === null ? '' : money.format(sum);
		$('hold').disabled = (selected.length === 0 && !extra) || state.busy;
		const words = selected.length ? [`${selected.length} ${selected.length === 1 ? 'seat' : 'seats'}`] : [];
		if (extra) words.push(addonWords(extra));
		$('hold').textContent = words.length ? `Hold ${words.join(' + ')}` : 'Hold seats';
		$('clear').disabled = (selected.length === 0 && !extra) || state.busy;
		$('best').disabled = state.busy;
		if (state.addon) $('addon-quantity').disabled = state.busy;

		const bookings = myBookings();
		const held = bookings.filter((b) => b.status === 'held');
		const heldSeats = held.flatMap((b) => b.seats);
		const heldAddons = held.flatMap((b) => b.addons);
		$('held-card').hidden = held.length === 0;
		$('held-list').replaceChildren(...heldSeats.map((s) => seatItem(s, false)), ...heldAddons.map(addonItem));
		const heldSum = sumPrices(heldSeats, heldAddons);
		$('held-sum').textContent = heldSum === null ? '' : money.format(heldSum);
		$('pay').textContent = heldSum === null ? 'Pay now' : `Pay ${money.format(heldSum)}`;
		for (const id of ['pay', 'extend', 'release']) $(id).disabled = state.busy;

		const paid = bookings.filter((b) => b.status === 'confirmed');
		$('tickets-card').hidden = paid.length === 0;
		$('tickets-list').replaceChildren(
			...paid.flatMap((b) =>
				[...b.seats.map((s) => seatItem(s, false)), ...b.addons.map(addonItem)].map((li) => {
					const ref = document.createElement('span');
					ref.className = 'ref';
					ref.textContent = `#${b.order_id ?? b.booking_id}`;
					li.append(ref);
					return li;
				}),
			),
		);

		// Steps in the top bar.
		const step = held.length ? 'pay' : selected.length || extra ? 'hold' : 'choose';
		const order = ['choose', 'hold', 'pay'];
		for (const el of document.querySelectorAll('.step')) {
			const i = order.indexOf(el.dataset.step);
			el.classList.toggle('active', el.dataset.step === step);
			el.classList.toggle('done', i < order.indexOf(step));
		}

		// Counts in the banner.
		let free = 0;
		let total = 0;
		for (const s of state.seats.values()) {
			total++;
			if (s.status === 'available') free++;
		}
		$('counts').innerHTML = `<strong>${free}</strong> of ${total} seats available`;
		renderAddonLeft();
		tick();
	}

	// How many add-ons are left (no notification tells: read after every
	// action and, at most every 2 s, when the map changes).
	let leftTimer = null;
	async function refreshAddonLeft() {
		if (!state.addon) return;
		try {
			state.addonLeft = (await rpcGet('availability', { pool_id: state.addon.pool_id })).available;
		} catch {
			return; // shown again at the next read
		}
		renderAddonLeft();
	}

	function refreshAddonLeftSoon() {
		if (!state.addon || leftTimer) return;
		leftTimer = setTimeout(() => {
			leftTimer = null;
			refreshAddonLeft();
		}, 2000);
	}

	// ------------------------------------------------------------ countdown

	function serverNow() {
		return Date.now() + state.clockOffset;
	}

	function tick() {
		const held = myBookings().filter((b) => b.status === 'held' && b.held_until);
		const box = $('countdown');
		if (!held.length) {
			box.removeAttribute('data-held-until');
			state.holdTotal = null;
			return;
		}
		const until = Math.min(...held.map((b) => b.held_until));
		if (box.dataset.heldUntil !== String(until)) {
			box.dataset.heldUntil = String(until);
			state.holdTotal = Math.max(until - serverNow(), 1000);
		}
		const left = Math.max(0, until - serverNow());
		const secs = Math.ceil(left / 1000);
		const text = `${String(Math.floor(secs / 60)).padStart(2, '0')}:${String(secs % 60).padStart(2, '0')}`;
		$('countdown-time').textContent = text;
		$('countdown-time').setAttribute('aria-label', `${Math.floor(secs / 60)} minutes ${secs % 60} seconds left`);
		$('countdown-fill').style.width = `${Math.min(100, (100 * left) / state.holdTotal).toFixed(1)}%`;
		box.classList.toggle('urgent', secs <= 60);
		if (left === 0 && !box.dataset.expiredShown) {
			box.dataset.expiredShown = '1';
			// The add-on of a lapsed hold is gone (its seats, the map says).
			const lapsed = [...state.addons.values()].filter((a) => a.status === 'held' && a.held_until <= serverNow());
			for (const a of lapsed) state.addons.delete(a.booking_id);
			if (lapsed.length) renderPanel();
			showMessage('error', 'Your hold has run out and the seats were released. Please choose again.');
		} else if (left > 0) {
			delete box.dataset.expiredShown;
		}
	}

	// ------------------------------------------------------------ messages

	function showMessage(kind, text) {
		const box = $('message');
		box.dataset.kind = kind;
		$('message-text').textContent = text;
		box.hidden = false;
	}

	function clearMessage() {
		clearTaken();
		$('message').hidden = true;
		$('message-text').textContent = '';
	}

	// ------------------------------------------------------------ actions

	async function withBusy(button, job) {
		if (state.busy) return;
		state.busy = true;
		button.classList.add('busy');
		renderPanel();
		try {
			await job();
		} catch (err) {
			showMessage('error', `Something went wrong: ${err.message}`);
		} finally {
			state.busy = false;
			button.classList.remove('busy');
			renderPanel();
		}
	}

	// A result of reserve_*: "held" makes the seats mine at once (the event
	// stream confirms it a moment later).
	function applyHeld(result) {
		apply(
			result.seat_ids.map((id) => ({
				id,
				status: 'held',
				held_until: Date.parse(result.held_until),
				mine: true,
				booking_id: result.booking_id,
			})),
		);
	}

	async function hold() {
		const ids = [...state.selected].sort((a, b) => a - b);
		const extra = addonQuantity();
		if (!ids.length && !extra) return;
		clearMessage();
		await withBusy($('hold'), async () => {
			if (extra) return holdCart(ids, extra);
			const r = await rpc('reserve_seats', { show_id: state.showId, seat_ids: ids, idempotency_key: newKey() });
			if (r.status === 'held') {
				for (const id of ids) state.selected.delete(id);
				applyHeld(r);
				showMessage('success', `${describeSeats(r.seat_ids)} ${r.seat_ids.length === 1 ? 'is' : 'are'} yours for now. Pay before the timer runs out.`);
			} else if (r.status === 'conflict') {
				const taken = r.unavailable || [];
				showTaken(taken);
				const rest = state.selected.size
					? ' Your other seats are still selected.'
					: ' Please choose other seats, or let us find the best available.';
				showMessage('conflict', takenSentence(taken) + rest);
			} else {
				showMessage('error', `Could not hold the seats (${r.status}).`);
			}
		});
	}

	// Seats someone else has just taken from the selection: shown taken now
	// (the event stream tells held from sold) and ringed.
	function showTaken(taken) {
		for (const id of taken) state.selected.delete(Number(id));
		apply(
			taken
				.map((id) => state.seats.get(Number(id)))
				.filter((s) => s && s.status === 'available')
				.map((s) => ({ id: s.id, status: 'held', held_until: null, mine: false })),
		);
		markTaken(taken);
	}

	// The cart with the add-on: one reserve_order of the seats (item 0, if
	// any) and the add-on (the last item), all held or none.
	async function holdCart(ids, extra) {
		const items = ids.length ? [{ show_id: state.showId, seat_ids: ids }] : [];
		items.push({ pool_id: state.addon.pool_id, quantity: extra });
		const last = items.length - 1;
		const r = await rpc('reserve_order', { items, idempotency_key: newKey() });
		if (r.status === 'held') {
			const until = Date.parse(r.held_until);
			for (const id of ids) state.selected.delete(id);
			state.addons.set(r.booking_ids[last], {
				booking_id: r.booking_ids[last],
				order_id: r.order_id,
				quantity: extra,
				status: 'held',
				held_until: until,
			});
			$('addon-quantity').value = '0';
			apply(ids.map((id) => ({ id, status: 'held', held_until: until, mine: true, booking_id: r.booking_ids[0], order_id: r.order_id })));
			const what = ids.length ? `${describeSeats(ids)} and ${addonWords(extra)} are` : `${addonWords(extra)} is`;
			showMessage('success', `${what} yours for now. Pay before the timer runs out.`);
			refreshAddonLeft();
			return;
		}
		// Nothing of the cart is held: say which items someone else has.
		await refreshAddonLeft();
		const why = [];
		for (const u of r.unavailable || []) {
			if (u.item === last) why.push(addonShort(u.status));
			else if (u.seat_ids && u.seat_ids.length) {
				showTaken(u.seat_ids);
				why.push(takenWords(u.seat_ids));
			}
		}
		if (!why.length) why.push(`the order could not be held (${r.status})`);
		const rest = !state.selected.size
			? ' Please choose other seats.'
			: ` Your other ${state.selected.size === 1 ? 'seat is' : 'seats are'} still selected.`;
		showMessage('conflict', `Sorry, ${why.join(', and ')}. Nothing in your cart was held.${rest}`);
	}

	// Why the add-on item failed, from its status and what is left now.
	function addonShort(status) {
		if (status === 'limit_exceeded') return `${state.addon.name} is limited to ${state.addon.max} per buyer`;
		if (status === 'sold_out' && state.addonLeft) return `only ${state.addonLeft} × ${state.addon.name} ${state.addonLeft === 1 ? 'is' : 'are'} left`;
		if (status === 'sold_out') return `${state.addon.name} is sold out`;
		return `${state.addon.name} is not available (${status})`;
	}

	async function best() {
		const quantity = Number($('best-quantity').value);
		const section = $('best-section').value || null;
		clearMessage();
		await withBusy($('best'), async () => {
			const r = await rpc('reserve_best_available', {
				show_id: state.showId,
				quantity,
				section,
				idempotency_key: newKey(),
			});
			if (r.status === 'held') {
				for (const id of r.seat_ids) state.selected.delete(Number(id));
				applyHeld(r);
				showMessage('success', `We found ${describeSeats(r.seat_ids)} for you. Pay before the timer runs out.`);
			} else {
				showMessage('conflict', `Sorry, there are no ${quantity} seats together left${section ? ` in the ${section}` : ''}.`);
			}
		});
	}

	// A seat of mine as apply() takes it (its booking and order kept).
	function mineAs(s) {
		return { id: s.id, mine: true, booking_id: s.booking_id, order_id: s.order_id };
	}

	function heldBookings() {
		return myBookings().filter((b) => b.status === 'held');
	}

	async function pay() {
		clearMessage();
		await withBusy($('pay'), async () => {
			// The payment provider would be called here; the demo takes a moment.
			await new Promise((r) => setTimeout(r, 400));
			let expired = 0;
			for (const b of heldBookings()) {
				const r =
					b.order_id !== null
						? await rpc('confirm_order', { order_id: b.order_id })
						: await rpc('confirm', { booking_id: b.booking_id });
				if (r.status === 'confirmed') {
					for (const a of b.addons) Object.assign(a, { status: 'confirmed', held_until: null });
					apply(b.seats.map((s) => ({ ...mineAs(s), status: 'sold', held_until: null })));
				} else {
					expired++;
					for (const a of b.addons) state.addons.delete(a.booking_id);
				}
			}
			refreshAddonLeft();
			if (expired) showMessage('error', 'Your hold ran out and the seats were taken, so you have not been charged.');
			else showMessage('success', 'Payment received. Enjoy the show!');
		});
	}

	async function release() {
		clearMessage();
		await withBusy($('release'), async () => {
			let addons = 0;
			for (const b of heldBookings()) {
				if (b.order_id !== null) await rpc('release_order', { order_id: b.order_id });
				else await rpc('release', { booking_id: b.booking_id });
				for (const a of b.addons) state.addons.delete(a.booking_id);
				addons += b.addons.length;
				apply(b.seats.map((s) => ({ id: s.id, status: 'available', held_until: null, mine: false })));
			}
			refreshAddonLeft();
			showMessage('success', addons ? `Your seats and ${state.addon.name} were released.` : 'The seats were released.');
		});
	}

	async function extend() {
		clearMessage();
		await withBusy($('extend'), async () => {
			for (const b of heldBookings()) {
				const r =
					b.order_id !== null
						? await rpc('extend_order', { order_id: b.order_id })
						: await rpc('extend_hold', { booking_id: b.booking_id });
				if (r.status === 'held') {
					const until = Date.parse(r.held_until);
					for (const a of b.addons) a.held_until = until;
					apply(b.seats.map((s) => ({ ...mineAs(s), status: 'held', held_until: until })));
				} else {
					showMessage('error', 'Your hold had already run out and the seats were taken.');
					return;
				}
			}
			showMessage('success', 'You have more time to pay.');
		});
	}

	// ------------------------------------------------------------ live updates

	function setLive(on) {
		const el = $('live');
		el.dataset.live = on ? 'true' : 'false';
		el.querySelector('.live-text').textContent = on ? 'Live' : 'Reconnecting…';
	}

	function connect() {
		const es = new EventSource(`/api/events?show_id=${encodeURIComponent(state.showId)}`);
		es.addEventListener('snapshot', (e) => {
			const data = JSON.parse(e.data);
			state.clockOffset = data.now - Date.now();
			if (!state.built) build(data.seats);
			apply(data.seats);
		});
		es.addEventListener('seats', (e) => {
			const data = JSON.parse(e.data);
			state.clockOffset = data.now - Date.now();
			apply(data.seats);
			refreshAddonLeftSoon();
		});
		es.addEventListener('live', (e) => setLive(JSON.parse(e.data).connected));
		es.addEventListener('error', () => setLive(false));
		window.seatmapEvents = es;
	}

	// The add-on of the cart: its choice, how many are left, and the add-ons
	// this buyer already has (held with seats in an order, or bought), which
	// the seat map cannot show.
	async function startAddon(addon) {
		state.addon = addon;
		$('addon-name').textContent = addon.name;
		$('addon-price').textContent = typeof addon.price === 'number' ? `${money.format(addon.price)} each` : '';
		const select = $('addon-quantity');
		for (let n = 1; n <= addon.max; n++) {
			const o = document.createElement('option');
			o.value = String(n);
			o.textContent = String(n);
			select.append(o);
		}
		$('addon').hidden = false;
		let mine = [];
		try {
			[mine] = await Promise.all([rpcGet('my_bookings'), refreshAddonLeft()]);
		} catch (err) {
			showMessage('error', `Your earlier ${addon.name} bookings could not be read: ${err.message}`);
		}
		for (const b of mine) {
			const live = b.status === 'confirmed' || (b.status === 'held' && Date.parse(b.held_until) > Date.now());
			if (Number(b.pool_id) !== Number(addon.pool_id) || !live) continue;
			state.addons.set(b.booking_id, {
				booking_id: b.booking_id,
				order_id: b.order_id,
				quantity: b.spots,
				status: b.status,
				held_until: b.held_until ? Date.parse(b.held_until) : null,
			});
		}
	}

	async function start() {
		$('hold').addEventListener('click', hold);
		$('clear').addEventListener('click', () => {
			const ids = [...state.selected];
			state.selected.clear();
			if (state.addon) $('addon-quantity').value = '0';
			for (const id of ids) paint(state.seats.get(id));
			renderPanel();
		});
		$('addon-quantity').addEventListener('change', () => {
			clearTaken();
			renderPanel();
		});
		$('best').addEventListener('click', best);
		$('pay').addEventListener('click', pay);
		$('release').addEventListener('click', release);
		$('extend').addEventListener('click', extend);
		$('message-close').addEventListener('click', clearMessage);

		const q = showParam ? `?show_id=${encodeURIComponent(showParam)}` : '';
		const res = await fetch(`/api/show${q}`);
		const show = await res.json();
		if (!res.ok) {
			$('map').textContent = show.message || 'This show could not be loaded.';
			return;
		}
		state.show = show;
		state.showId = show.show_id;
		$('show-title').textContent = show.title;
		$('show-subtitle').textContent = show.subtitle || '';
		$('venue').textContent = show.venue;
		document.title = `${show.title} · Choose your seats · ${show.venue}`;
		if (show.addon) await startAddon(show.addon);
		connect();
		setInterval(tick, 250);
	}

	start();
})();
