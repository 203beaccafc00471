/* exit_code CODE: exit with status CODE. */
#include "common.h"

int main(int argc, char **argv)
{
	return (int)arg_long(argc, argv, 1, 0);
}
