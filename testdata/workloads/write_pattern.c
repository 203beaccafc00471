/* write_pattern NBYTES: write NBYTES bytes to stdout, byte i being i % 251, in
 * chunks of varying size. Tests compare what comes out byte for byte. */
#include "common.h"

int main(int argc, char **argv)
{
	long n = arg_long(argc, argv, 1, 65536);
	static unsigned char buf[65536];
	long done = 0, chunk = 1;
	while (done < n) {
		long len = chunk;
		if (len > n - done)
			len = n - done;
		for (long i = 0; i < len; i++)
			buf[i] = (unsigned char)((done + i) % 251);
		long off = 0;
		while (off < len) {
			ssize_t w = write(1, buf + off, len - off);
			if (w < 0) {
				if (errno == EINTR)
					continue;
				die("write");
			}
			off += w;
		}
		done += len;
		chunk = chunk * 3 % 65521 + 1;
	}
	return 0;
}
