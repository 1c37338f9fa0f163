# SPDX-License-Identifier: MIT
# Helpers shared by check.sh (host) and tests/run-guest.sh (guest); sourced.
#
# run_suite NAME COMMAND... runs one test suite and frames its output with
# marker lines that count_results reads back:
#   JAL-SUITE-BEGIN NAME
#   ... the suite's own output (kselftest TAP with a "# Totals:" line) ...
#   JAL-SUITE-END NAME rc=N
run_suite() {
	local name=$1 rc
	shift
	echo "JAL-SUITE-BEGIN $name"
	set +e
	"$@" 2>&1
	rc=$?
	set -e
	echo "JAL-SUITE-END $name rc=$rc"
	return 0
}

# count_results LOG: print "PASSED FAILED" summed over every suite in LOG.
# A suite counts its kselftest totals; a suite without totals (a lint or a
# log scan) counts as one check passed or failed by its exit code; a suite
# that exits non-zero without reporting a failure (a crash) counts one
# failure more; a suite that started and never ended (the guest died)
# counts as failed.
count_results() {
	awk '
	/^JAL-SUITE-BEGIN / { open = 1; p = 0; f = 0; totals = 0; name = $2; next }
	/^# Totals: pass:[0-9]+ fail:[0-9]+/ && open {
		split($3, a, ":"); split($4, b, ":")
		p += a[2]; f += b[2]; totals = 1; next
	}
	/^JAL-SUITE-END / && open {
		rc = $3; sub("rc=", "", rc)
		if (!totals) { if (rc == 0) p = 1; else f = 1 }
		else if (rc != 0 && f == 0) f = 1
		P += p; F += f; open = 0
		printf "suite %-28s %4d passed, %d failed\n", name, p, f > "/dev/stderr"
		next
	}
	END {
		if (open) {
			printf "suite %-28s did not finish\n", name > "/dev/stderr"
			P += p; F += f + 1
		}
		print P + 0, F + 0
	}' "$1"
}
