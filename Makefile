.DEFAULT_GOAL := help
.PHONY: help run test bench install check clean

help:
	@echo "make run    - set everything up and run the shop (Ctrl-C stops it)"
	@echo "              ARGS=--reset-staff-password sets the staff password again"
	@echo "make test   - set everything up and run the whole test suite"
	@echo "make bench  - benchmarks on loopback (not part of make test); results in bench-results/"
	@echo "make check  - migrations check and Django system checks"
	@echo "make clean  - stop and remove the private database, media and virtualenv"

run:
	@./scripts/shop run $(ARGS)

test:
	@./scripts/shop test $(ARGS)

bench:
	@./scripts/shop bench $(ARGS)

install:
	@./scripts/shop install

check:
	@./scripts/shop check

clean:
	@./scripts/shop clean
