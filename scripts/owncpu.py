#!/usr/bin/env python3
# owncpu.py - the CPU time of one process apart from its children's: runs
# CMD with stdin from INFILE and stdout to /dev/null, waits for it to exit
# without reaping it (waitid WNOWAIT) and reads its /proc/PID/stat: its own
# user and system seconds (utime, stime) and those of the children it
# waited for (cutime, cstime). For obz parallel: the coordinator's own cost
# against its replicas'.
#
# Usage: scripts/owncpu.py INFILE CMD [ARG...]
#   scripts/owncpu.py bench-data/events-1000000.frames obz parallel -j 2 -- filter true
import os, sys
tck = os.sysconf('SC_CLK_TCK')
pid = os.fork()
if pid == 0:
    fd = os.open(sys.argv[1], os.O_RDONLY); os.dup2(fd, 0)
    nul = os.open('/dev/null', os.O_WRONLY); os.dup2(nul, 1)
    os.execvp(sys.argv[2], sys.argv[2:])
os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
f = open('/proc/%d/stat' % pid).read().rsplit(')', 1)[1].split()
ut, st, cut, cst = (int(x) / tck for x in f[11:15])
os.waitpid(pid, 0)
print('own %.2f (user %.2f sys %.2f) children %.2f' % (ut + st, ut, st, cut + cst))
