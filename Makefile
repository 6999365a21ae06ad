# carebot: two commands do everything on a fresh machine.
#   make demo   set up, then run the simulated care-home demo
#   make test   set up, then run the whole test suite
.PHONY: setup demo test doctor clean

setup:
	bash scripts/setup.sh

demo: setup
	.venv/bin/carebot demo --out out/demo

test: setup
	bash scripts/run_tests.sh

doctor: setup
	.venv/bin/carebot doctor

clean:
	rm -rf robot_ws/build robot_ws/install robot_ws/log out
