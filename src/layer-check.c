/*
 * layer-check.c - an empty program linked against one layer at a time.
 *
 * meson.build links each layer's static library whole (every object file)
 * together with only the layers below it.  A call from a lower layer into a
 * higher one is then an undefined reference and the build fails: the
 * direction of dependencies is checked by the linker, not by review.
 */
int main(void)
{
	return 0;
}
