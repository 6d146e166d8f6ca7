# smppd — build, test, benchmark and fuzz.

GO       ?= go
BIN      ?= bin/smppd
FUZZTIME ?= 30s
BENCHTIME ?= 1s
PKGS     := ./...

.PHONY: all build test test-short bench fuzz run clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/smppd

# test is the one command CI runs: vet, then every test with the race detector.
test:
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

test-short:
	$(GO) test -short -count=1 $(PKGS)

bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) $(PKGS)

# fuzz runs each native fuzz target for FUZZTIME (go test allows one target per run).
fuzz:
	@set -e; for pkg in $$($(GO) list $(PKGS)); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$t ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

# run starts a throw-away gateway with a test-mode token (see README).
run:
	$(GO) run ./cmd/smppd serve --dev

clean:
	rm -rf bin

# ---- packaging: man pages, shell completions, install ----------------------
# make install [PREFIX=/usr/local] [DESTDIR=/tmp/pkgroot] [SYSCONFDIR=/etc]
PREFIX     ?= /usr/local
DESTDIR    ?=
SYSCONFDIR ?= /etc
BINDIR     ?= $(PREFIX)/bin
MANDIR     ?= $(PREFIX)/share/man
UNITDIR    ?= $(PREFIX)/lib/systemd/system

.PHONY: man completions install uninstall

# man writes one page per command (generated from --help) into bin/man/man1.
man: build
	rm -rf bin/man && $(BIN) man --dir bin/man/man1 >/dev/null

# completions writes bash, zsh and fish completion scripts into bin/completions.
completions: build
	mkdir -p bin/completions
	$(BIN) completion bash > bin/completions/smppd.bash
	$(BIN) completion zsh  > bin/completions/_smppd
	$(BIN) completion fish > bin/completions/smppd.fish

# install copies the binary, man pages, completions, the systemd unit (its
# paths rewritten to BINDIR) and, unless one exists, the example config.
install: build man completions
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(UNITDIR) \
	  $(DESTDIR)$(PREFIX)/share/bash-completion/completions \
	  $(DESTDIR)$(PREFIX)/share/zsh/site-functions \
	  $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d \
	  $(DESTDIR)$(SYSCONFDIR)/smppd
	install -m 0755 $(BIN) $(DESTDIR)$(BINDIR)/smppd
	install -m 0644 bin/man/man1/*.1 $(DESTDIR)$(MANDIR)/man1/
	install -m 0644 bin/completions/smppd.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/smppd
	install -m 0644 bin/completions/_smppd $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_smppd
	install -m 0644 bin/completions/smppd.fish $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/smppd.fish
	sed -e 's#/usr/local/bin/smppd#$(BINDIR)/smppd#g' -e 's#/etc/smppd/#$(SYSCONFDIR)/smppd/#g' \
	  packaging/systemd/smppd.service > $(DESTDIR)$(UNITDIR)/smppd.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/smppd.service
	test -e $(DESTDIR)$(SYSCONFDIR)/smppd/smppd.yaml || \
	  install -m 0640 packaging/smppd.yaml $(DESTDIR)$(SYSCONFDIR)/smppd/smppd.yaml

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/smppd $(DESTDIR)$(MANDIR)/man1/smppd.1 $(DESTDIR)$(MANDIR)/man1/smppd-*.1 \
	  $(DESTDIR)$(UNITDIR)/smppd.service \
	  $(DESTDIR)$(PREFIX)/share/bash-completion/completions/smppd \
	  $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_smppd \
	  $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/smppd.fish
