/* realmgw set-element transactions (src/nft_elems.c): registers elemsOpen / elemsRun / elemsClose. */
#ifndef RGW_NFT_ELEMS_H
#define RGW_NFT_ELEMS_H
#include <node_api.h>

void rgw_elems_register(napi_env env, napi_value exports);

#endif
