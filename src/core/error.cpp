#include "core/error.hpp"
#include "core/assert_pure.hpp"

namespace booking {

const char *
sqlstate_code(SqlState state) noexcept
{
	switch (state) {
	case SqlState::InvalidParameterValue:
		return "22023";
	case SqlState::NullValueNotAllowed:
		return "22004";
	case SqlState::NumericOutOfRange:
		return "22003";
	case SqlState::NotFound:
		return "PT404";
	case SqlState::Forbidden:
		return "PT403";
	case SqlState::StateConflict:
		return "PT409";
	case SqlState::InsufficientPrivilege:
		return "42501";
	case SqlState::ObjectNotInPrerequisiteState:
		return "55000";
	case SqlState::LockNotAvailable:
		return "55P03";
	case SqlState::DataCorrupted:
		return "XX001";
	case SqlState::Internal:
		break;
	}
	return "XX000";
}

}  // namespace booking
