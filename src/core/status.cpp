#include "core/status.hpp"

#include "core/assert_pure.hpp"

#include <initializer_list>

namespace booking::core {

std::optional<Status>
parse_booking_state(std::string_view text) noexcept
{
	for (Status s : {Status::Held, Status::Confirmed, Status::Waitlisted, Status::Released, Status::Expired})
		if (text == status_text(s))
			return s;
	return std::nullopt;
}

}  // namespace booking::core
