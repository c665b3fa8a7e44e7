.DEFAULT_GOAL := help
.PHONY: help run test install check clean

help:
	@echo "make run    - set everything up and run the shop (Ctrl-C stops it)"
	@echo "make test   - set everything up and run the whole test suite"
	@echo "make check  - migrations check and Django system checks"
	@echo "make clean  - stop and remove the private database, media and virtualenv"

run:
	@./scripts/shop run

test:
	@./scripts/shop test $(ARGS)

install:
	@./scripts/shop install

check:
	@./scripts/shop check

clean:
	@./scripts/shop clean
