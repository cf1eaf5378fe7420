# A thin wrapper over meson, so that a fresh Debian 12 machine needs only
#   make demo     install what is missing, build, run the demo
#   make check    install what is missing, build with ASan+UBSan, run every test
# Everything else is meson: `meson compile -C build`, `meson test -C build`.

MESON ?= meson
BUILD ?= build
CHECK_BUILD ?= build-check

# The check build compiles the libFuzzer harnesses (tests/fuzz, -Dfuzz=true),
# which only clang can build, so the whole check build uses clang.
CHECK_CC ?= clang
CHECK_OPTS = --buildtype=debugoptimized -Db_sanitize=address,undefined \
	-Dtest_build=true -Dwerror=true -Dfuzz=true
CHECK_ENV = ASAN_OPTIONS=detect_leaks=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

.PHONY: all demo check bench install clean

all: $(BUILD)/build.ninja
	$(MESON) compile -C $(BUILD)

$(BUILD)/build.ninja:
	$(MESON) setup $(BUILD) --buildtype=debugoptimized

demo:
	scripts/deps.sh --demo
	$(MAKE) --no-print-directory all
	CAIRN=$(BUILD)/cairn scripts/demo.sh
	CAIRN=$(BUILD)/cairn scripts/demo-cluster.sh

# The check build is (re)configured from scratch when its compiler or options
# change, so a build-check/ left by an older Makefile never runs stale settings.
check:
	scripts/deps.sh --test
	@want='$(CHECK_CC) $(CHECK_OPTS)'; \
	if [ ! -f $(CHECK_BUILD)/build.ninja ]; then \
		echo "CC=$(CHECK_CC) $(MESON) setup $(CHECK_BUILD) $(CHECK_OPTS)"; \
		CC=$(CHECK_CC) $(MESON) setup $(CHECK_BUILD) $(CHECK_OPTS) || exit; \
	elif [ "$$(cat $(CHECK_BUILD)/.make-options 2>/dev/null)" != "$$want" ]; then \
		echo "CC=$(CHECK_CC) $(MESON) setup --wipe $(CHECK_BUILD) $(CHECK_OPTS)"; \
		CC=$(CHECK_CC) $(MESON) setup --wipe $(CHECK_BUILD) $(CHECK_OPTS) || exit; \
	fi; \
	printf '%s\n' "$$want" > $(CHECK_BUILD)/.make-options
	$(MESON) compile -C $(CHECK_BUILD)
	$(CHECK_ENV) $(MESON) test -C $(CHECK_BUILD) --print-errorlogs --num-processes 2

bench: all
	@if [ -x $(BUILD)/bench/plan-scale ]; then \
		$(BUILD)/bench/plan-scale; \
	else \
		echo "bench: $(BUILD)/bench/plan-scale was not built (see bench/meson.build)" >&2; \
		exit 1; \
	fi
	bench/apply-scale $(BUILD)/cairn $(BUILD)/tests/plugins/cairn-provider-test
	bench/inventory $(BUILD)/cairn $(BUILD)/tests/plugins/cairn-provider-test
	@if [ "$$(id -u)" = 0 ] && command -v ansible >/dev/null && [ -x /usr/sbin/sshd ]; then bench/fanout $(BUILD)/cairn; else echo "bench: bench/fanout skipped (needs root, /usr/sbin/sshd and ansible: scripts/deps.sh --test)"; fi

install: all
	$(MESON) install -C $(BUILD)

clean:
	rm -rf $(BUILD) $(CHECK_BUILD) build-ci
