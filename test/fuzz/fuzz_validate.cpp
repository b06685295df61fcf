// libFuzzer target: the argument checks of src/core/validate.hpp.
//
// Each input is a sequence of calls with generated arguments. For every call
// the target works out from the documented contract alone whether it must
// raise, and checks that it raises exactly then, with the contract's
// SQLSTATE, a message naming the argument (and the value where the contract's
// messages name one), and nothing but booking::Error.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/validate.hpp"
#include "property.hpp"

using booking::Error;
using booking::SqlState;
namespace core = booking::core;

namespace {

// Run f; the booking::Error it raised, if any. Any other exception breaks
// the contract (the boundary would report it as an internal error).
template <typename F>
std::optional<Error>
raised(F f)
{
	try {
		f();
	} catch (const Error &e) {
		return e;
	} catch (const std::exception &e) {
		PROPERTY(false, "a check raised %s instead of booking::Error", e.what());
	} catch (...) {
		PROPERTY(false, "a check raised a non-std exception");
	}
	return std::nullopt;
}

bool
contains(const std::string &haystack, const std::string &needle)
{
	return haystack.find(needle) != std::string::npos;
}

// An argument name as the SQL entry points pass it: a C string.
std::string
argument_name(FuzzedDataProvider &in)
{
	std::string s = in.ConsumeRandomLengthString(24);
	s = s.substr(0, std::strlen(s.c_str()));  // up to the first NUL
	return s.empty() ? "quantity" : s;
}

// Values around the interesting boundaries, or anything.
int64_t
interesting_int(FuzzedDataProvider &in)
{
	static const int64_t anchors[] = {INT64_MIN, INT64_MIN + 1, int64_t(INT32_MIN), -65, -1, 0, 1, 2,
									  63, 64, 65, 255, 256, 257, 1023, 1024, 1025, 10000, 10001,
									  int64_t(INT32_MAX), INT64_MAX - 1, INT64_MAX};
	switch (in.ConsumeIntegralInRange<int>(0, 3)) {
	case 0:
		return in.ConsumeIntegral<int64_t>();
	case 1:
		return in.ConsumeIntegralInRange<int64_t>(-3, 70);
	default: {
		int64_t a = in.PickValueInArray(anchors);
		int64_t d = in.ConsumeIntegralInRange<int64_t>(-2, 2);
		// Saturate instead of overflowing near the ends.
		if (d > 0 && a > INT64_MAX - d)
			return INT64_MAX;
		if (d < 0 && a < INT64_MIN - d)
			return INT64_MIN;
		return a + d;
	}
	}
}

void
fuzz_require(FuzzedDataProvider &in)
{
	bool present = in.ConsumeBool();
	std::string name = argument_name(in);
	auto e = raised([&] { core::require(present, name.c_str()); });
	PROPERTY(e.has_value() == !present, "require(%d, \"%s\") %s", present, name.c_str(),
			 e ? "raised" : "did not raise");
	if (e) {
		PROPERTY(e->state() == SqlState::NullValueNotAllowed, "require raised SQLSTATE %s, not 22004",
				 booking::sqlstate_code(e->state()));
		PROPERTY(contains(e->what(), name), "message \"%s\" does not name argument \"%s\"", e->what(),
				 name.c_str());
	}
}

void
fuzz_positive(FuzzedDataProvider &in)
{
	int64_t value = interesting_int(in);
	std::string name = argument_name(in);
	auto e = raised([&] { core::check_positive(value, name.c_str()); });
	PROPERTY(e.has_value() == (value < 1), "check_positive(%lld) %s", (long long) value,
			 e ? "raised" : "did not raise");
	if (e) {
		PROPERTY(e->state() == SqlState::InvalidParameterValue, "check_positive raised SQLSTATE %s",
				 booking::sqlstate_code(e->state()));
		PROPERTY(contains(e->what(), name) && contains(e->what(), std::to_string(value)),
				 "message \"%s\" names neither \"%s\" nor %lld", e->what(), name.c_str(), (long long) value);
	}
}

void
fuzz_capacity(FuzzedDataProvider &in)
{
	int64_t value = interesting_int(in);
	auto e = raised([&] { core::check_capacity(value); });
	PROPERTY(e.has_value() == (value < 0), "check_capacity(%lld) %s", (long long) value,
			 e ? "raised" : "did not raise");
	if (e) {
		PROPERTY(e->state() == SqlState::InvalidParameterValue, "check_capacity raised SQLSTATE %s",
				 booking::sqlstate_code(e->state()));
		PROPERTY(contains(e->what(), "capacity") && contains(e->what(), std::to_string(value)),
				 "message \"%s\" does not name capacity %lld", e->what(), (long long) value);
	}
}

void
fuzz_shards(FuzzedDataProvider &in)
{
	int64_t value = interesting_int(in);
	auto e = raised([&] { core::check_shards(value); });
	bool bad = value < 1 || value > core::max_shards;
	PROPERTY(e.has_value() == bad, "check_shards(%lld) %s", (long long) value, e ? "raised" : "did not raise");
	if (e) {
		PROPERTY(e->state() == SqlState::InvalidParameterValue, "check_shards raised SQLSTATE %s",
				 booking::sqlstate_code(e->state()));
		PROPERTY(contains(e->what(), std::to_string(value)), "message \"%s\" does not name %lld", e->what(),
				 (long long) value);
		PROPERTY(contains(e->detail() + e->hint(), std::to_string(core::max_shards)),
				 "detail \"%s\" does not give the range", e->detail().c_str());
	}
}

void
fuzz_length(FuzzedDataProvider &in)
{
	std::size_t limit = in.ConsumeBool() ? core::max_key_bytes : core::max_name_bytes;
	if (in.ConsumeIntegralInRange<int>(0, 7) == 0)
		limit = in.ConsumeIntegral<std::size_t>();
	std::size_t bytes;
	switch (in.ConsumeIntegralInRange<int>(0, 2)) {
	case 0:
		bytes = in.ConsumeIntegral<std::size_t>();
		break;
	case 1:
		bytes = in.ConsumeIntegralInRange<std::size_t>(0, 2048);
		break;
	default:
		bytes = limit + in.ConsumeIntegralInRange<std::size_t>(0, 2) - 1;	// limit-1 .. limit+1 (wraps at 0)
		break;
	}
	std::string name = argument_name(in);
	auto e = raised([&] { core::check_length(bytes, limit, name.c_str()); });
	PROPERTY(e.has_value() == (bytes > limit), "check_length(%zu, %zu) %s", bytes, limit,
			 e ? "raised" : "did not raise");
	if (e) {
		PROPERTY(e->state() == SqlState::InvalidParameterValue, "check_length raised SQLSTATE %s",
				 booking::sqlstate_code(e->state()));
		PROPERTY(contains(e->what(), name) && contains(e->what(), std::to_string(bytes)) &&
					 contains(e->what(), std::to_string(limit)),
				 "message \"%s\" does not name \"%s\", %zu and %zu", e->what(), name.c_str(), bytes, limit);
	}
}

void
fuzz_id_list(FuzzedDataProvider &in, bool &long_list_done)
{
	std::vector<int64_t> ids;
	if (long_list_done || in.ConsumeBool()) {
		// A short list of arbitrary or colliding ids.
		bool narrow = in.ConsumeBool();
		std::size_t n = in.ConsumeIntegralInRange<std::size_t>(0, 40);
		for (std::size_t i = 0; i < n && in.remaining_bytes() > 0; i++)
			ids.push_back(narrow ? in.ConsumeIntegralInRange<int64_t>(-4, 12) : in.ConsumeIntegral<int64_t>());
	} else {
		// A long list around the 10,000-element limit, distinct unless a
		// duplicate is planted. One per input: they are slow to check.
		long_list_done = true;
		std::size_t n = in.ConsumeIntegralInRange<std::size_t>(core::max_seats_per_booking - 3,
															   core::max_seats_per_booking + 3);
		if (in.ConsumeBool())
			n = in.ConsumeIntegralInRange<std::size_t>(0, core::max_seats_per_booking + 50);
		uint64_t base = in.ConsumeIntegral<uint64_t>();
		uint64_t stride = in.ConsumeIntegralInRange<uint64_t>(1, 1000003);
		for (std::size_t i = 0; i < n; i++)
			ids.push_back(int64_t(base + stride * i));	// distinct: stride * i < 2^64 for i < 10,050
		if (!ids.empty() && in.ConsumeBool()) {
			std::size_t from = in.ConsumeIntegralInRange<std::size_t>(0, ids.size() - 1);
			std::size_t to = in.ConsumeIntegralInRange<std::size_t>(0, ids.size() - 1);
			ids[to] = ids[from];
		}
		if (in.ConsumeBool())
			std::reverse(ids.begin(), ids.end());
	}
	bool has_null = in.ConsumeIntegralInRange<int>(0, 5) == 0;
	// As PostgreSQL reports them: an empty array has no dimensions.
	int ndims = ids.empty() && !has_null ? 0 : 1;
	if (in.ConsumeIntegralInRange<int>(0, 5) == 0)
		ndims = in.ConsumeIntegralInRange<int>(0, 6);  // MAXDIM is 6
	std::string name = argument_name(in);

	std::vector<int64_t> distinct(ids);
	std::sort(distinct.begin(), distinct.end());
	distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
	bool bad = ndims > 1 || (ids.empty() && !has_null) || has_null || ids.size() > core::max_seats_per_booking ||
			   distinct.size() != ids.size();
	auto e = raised([&] { core::check_id_list(ids, ndims, has_null, name.c_str()); });
	PROPERTY(e.has_value() == bad, "check_id_list(%zu ids, %zu distinct, ndims %d, has_null %d) %s", ids.size(),
			 distinct.size(), ndims, has_null, e ? "raised" : "did not raise");
	if (!e)
		return;
	PROPERTY(e->state() == SqlState::InvalidParameterValue, "check_id_list raised SQLSTATE %s",
			 booking::sqlstate_code(e->state()));
	PROPERTY(contains(e->what(), name), "message \"%s\" does not name \"%s\"", e->what(), name.c_str());
	// A message about a duplicate names an id that really is listed twice.
	const std::string message = e->what();
	std::size_t at = message.rfind(" twice");
	std::size_t lists = message.rfind(" lists ", at);
	if (at != std::string::npos && lists != std::string::npos && at == message.size() - 6) {
		std::string text = message.substr(lists + 7, at - lists - 7);
		long long dup = std::stoll(text);
		PROPERTY(std::count(ids.begin(), ids.end(), int64_t(dup)) >= 2, "\"%s\": %lld is not listed twice",
				 message.c_str(), dup);
	}
}

void
fuzz_hold_end(FuzzedDataProvider &in)
{
	int64_t now = interesting_int(in);
	int64_t until;
	if (in.ConsumeBool()) {
		until = interesting_int(in);
	} else {
		int64_t d = in.ConsumeIntegralInRange<int64_t>(-1, 1);	// just before, at, just after now
		until = (d > 0 && now == INT64_MAX) || (d < 0 && now == INT64_MIN) ? now : now + d;
	}
	std::string name = argument_name(in);
	auto e = raised([&] { core::check_hold_end(until, now, name.c_str()); });
	PROPERTY(e.has_value() == (until <= now), "check_hold_end(%lld, %lld) %s", (long long) until,
			 (long long) now, e ? "raised" : "did not raise");
	if (e) {
		PROPERTY(e->state() == SqlState::InvalidParameterValue, "check_hold_end raised SQLSTATE %s",
				 booking::sqlstate_code(e->state()));
		PROPERTY(contains(e->what(), name), "message \"%s\" does not name \"%s\"", e->what(), name.c_str());
	}
}

void
fuzz_sqlstate(FuzzedDataProvider &in)
{
	static const SqlState states[] = {SqlState::InvalidParameterValue,
									  SqlState::NullValueNotAllowed,
									  SqlState::NumericOutOfRange,
									  SqlState::NotFound,
									  SqlState::Forbidden,
									  SqlState::StateConflict,
									  SqlState::ObjectNotInPrerequisiteState,
									  SqlState::Internal};
	static const char *codes[] = {"22023", "22004", "22003", "PT404", "PT403", "PT409", "55000", "XX000"};
	std::size_t i = in.ConsumeIntegralInRange<std::size_t>(0, 7);
	const char *code = booking::sqlstate_code(states[i]);
	PROPERTY(code != nullptr && std::strcmp(code, codes[i]) == 0, "sqlstate_code(%zu) is %s, not %s", i,
			 code ? code : "NULL", codes[i]);
}

}  // namespace

extern "C" int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FuzzedDataProvider in(data, size);
	bool long_list_done = false;
	for (int calls = 0; calls < 64 && in.remaining_bytes() > 0; calls++) {
		switch (in.ConsumeIntegralInRange<int>(0, 8)) {
		case 0:
			fuzz_require(in);
			break;
		case 1:
			fuzz_positive(in);
			break;
		case 2:
			fuzz_capacity(in);
			break;
		case 3:
			fuzz_shards(in);
			break;
		case 4:
			fuzz_length(in);
			break;
		case 5:
		case 6:
			fuzz_id_list(in, long_list_done);
			break;
		case 7:
			fuzz_hold_end(in);
			break;
		default:
			fuzz_sqlstate(in);
			break;
		}
	}
	return 0;
}
