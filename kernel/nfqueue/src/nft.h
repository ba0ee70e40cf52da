/* realmgw libnftables binding (src/nft.c): registers nftOpen / nftRun / nftClose on the module's exports. */
#ifndef RGW_NFT_H
#define RGW_NFT_H
#include <node_api.h>

void rgw_nft_register(napi_env env, napi_value exports);

#endif
