/* realmgw process helpers (src/process.c): registers sdNotify / flockTry on the module's exports. */
#ifndef RGW_PROCESS_H
#define RGW_PROCESS_H
#include <node_api.h>

void rgw_process_register(napi_env env, napi_value exports);

#endif
