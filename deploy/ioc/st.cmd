#!../../bin/linux-x86_64/fwsIoc
# An IOC hosting fws-daemon's PVs (fws-daemon --pv-host ioc), for scanner 1.
# Build it as any IOC application with EPICS base and autosave
# (makeBaseApp.pl -t ioc fws; fwsIoc_DBD += base.dbd asSupport.dbd;
# fwsIoc_LIBS += autosave), then run this file from iocBoot/iocfws.
# docs/deploy.md ("IOC mode") walks through it. Every command here is
# EPICS base's or autosave's; a test runs it in pythonSoftIOC (the autosave
# lines and the two application lines aside) and checks the access rules.

< envPaths

# The daemon's prefix (its "main" prefix: scan prefix + DMN-) and its
# max_steps (the station file's; it sizes the fit histories).
epicsEnvSet("P", "PBI-WS06:Ctrl-SCAN-001:DMN-")
epicsEnvSet("MAX_STEPS", "10000")
# Where scripts/install.sh put the kit (PREFIX/share/fws-daemon).
epicsEnvSet("FWS", "/usr/local/share/fws-daemon")
# Access security: the hosts whose clients may operate the scanner, and
# the host the daemon runs on (see fws_daemon.acf). Host names are checked
# as the clients' IP addresses (asCheckClientIP below), looked up when the
# IOC starts; quote a list: "'opi-1,opi-2'".
epicsEnvSet("OPERATOR_HOSTS", "'opi-1,opi-2'")
epicsEnvSet("DAEMON_HOST", "fws-host")
# Where autosave keeps its .sav files (writable by the IOC's user).
epicsEnvSet("AUTOSAVE_DIR", "/var/lib/fws-ioc/autosave")

dbLoadDatabase("$(TOP)/dbd/fwsIoc.dbd")
fwsIoc_registerRecordDeviceDriver(pdbbase)

dbLoadRecords("$(FWS)/db/fws_daemon.db", "P=$(P),MAX_STEPS=$(MAX_STEPS)")

# Only the listed hosts write; everyone reads. Check HAG members by the
# client's IP address, not by the host name a client claims (any client
# can claim any name).
var("asCheckClientIP", "1")
asSetSubstitutions("OPERATOR_HOSTS=$(OPERATOR_HOSTS),DAEMON_HOST=$(DAEMON_HOST)")
asSetFilename("$(FWS)/ioc/fws_daemon.acf")

# Autosave: the operator inputs come back after an IOC restart (the
# daemon's own autosave is off in IOC mode). Pass 0 restores the scalars
# before record initialisation, pass 1 the long strings (char waveforms).
set_requestfile_path("$(FWS)/ioc")
set_savefile_path("$(AUTOSAVE_DIR)")
save_restoreSet_DatedBackupFiles(1)
save_restoreSet_NumSeqFiles(3)
save_restoreSet_SeqPeriodInSeconds(600)
set_pass0_restoreFile("fws_daemon.sav")
set_pass1_restoreFile("fws_daemon.sav")

iocInit()

# Save the inputs 5 s after a change.
create_monitor_set("fws_daemon.req", 5, "P=$(P)")
