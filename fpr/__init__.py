"""The parts of the FPR connector that connector.py calls, each in a module named for its job.

settings     the configuration, checked and typed
client       one page of /fpr_data: retries, and a message for every way a request can fail
retry        how long to wait before trying again
transport    HTTP on a requests Session, each GET bounded and read within its caps
causes       what each way a request can fail means, and whether a retry could change it
proxy        the proxy requests picks from the environment, named without its credentials
intermediaries  answers that are not the API's: who sent them, and what their page says
deadline     a request bounded from connect to last byte, and the adapter that makes it possible
body         a response body read within its size cap, decompressed within it, parsed as JSON
paging       the cursor chain, one page fetched ahead, the guards against loops, and the sync's bound
state        the saved state, read back with care and written only with values the next sync can send
records      API records turned into rows that fit their columns
field_names  which fields the schema does not declare may become columns
issues       record defects, counted and reported once per sync
signals      Ctrl-C and SIGTERM held back while a checkpoint is saved
text         text no destination can store, repaired
safe_log     every message the connector writes, with the API key and emails masked
errors       the exceptions shared by these modules
"""
