/*
 * ngx_http_vote_module.c - module definition: the directive table,
 * create/merge of the main and location configuration, config-time loading of
 * the poll catalog and JWT secrets (so `nginx -t` reports a broken file and
 * `nginx -s reload` picks up a changed one), worker init/exit, and the
 * $vote_* variables.
 */
#include "ngx_http_vote.h"
#include "kafka_conf.h"
#include "ngx_http_vote_metrics.h"
#include "ngx_http_vote_producer.h"
#include "ngx_http_vote_revocations.h"

static void     *ngx_http_vote_create_main_conf(ngx_conf_t *cf);
static char     *ngx_http_vote_init_main_conf(ngx_conf_t *cf, void *conf);
static void     *ngx_http_vote_create_loc_conf(ngx_conf_t *cf);
static char     *ngx_http_vote_merge_loc_conf(ngx_conf_t *cf, void *parent,
                                              void *child);
static ngx_int_t ngx_http_vote_add_variables(ngx_conf_t *cf);
static ngx_int_t ngx_http_vote_postconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_http_vote_init_process(ngx_cycle_t *cycle);
static void      ngx_http_vote_exit_process(ngx_cycle_t *cycle);
static char     *ngx_http_vote_property(ngx_conf_t *cf, ngx_command_t *cmd,
                                        void *conf);
static char     *ngx_http_vote_catalog(ngx_conf_t *cf, ngx_command_t *cmd,
                                       void *conf);
static char     *ngx_http_vote_jwt_secrets(ngx_conf_t *cf, ngx_command_t *cmd,
                                           void *conf);
static char     *ngx_http_vote_revocations(ngx_conf_t *cf, ngx_command_t *cmd,
                                           void *conf);
static char     *ngx_http_vote_enqueue(ngx_conf_t *cf, ngx_command_t *cmd,
                                       void *conf);
static char     *ngx_http_vote_metrics(ngx_conf_t *cf, ngx_command_t *cmd,
                                       void *conf);

/* clang-format off */
static ngx_conf_enum_t ngx_http_vote_durability[] = {
    { ngx_string("local"),  NGX_HTTP_VOTE_LOCAL },
    { ngx_string("broker"), NGX_HTTP_VOTE_BROKER },
    { ngx_null_string, 0 }
};

static ngx_command_t ngx_http_vote_commands[] = {

    { ngx_string("vote_kafka_brokers"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_vote_main_conf_t, brokers),
      NULL },

    { ngx_string("vote_kafka_property"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_http_vote_property,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_vote_main_conf_t, props),
      NULL },

    { ngx_string("vote_kafka_local_property"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_http_vote_property,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_vote_main_conf_t, local_props),
      NULL },

    { ngx_string("vote_poll_catalog"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_vote_catalog,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("vote_jwt_secrets"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_vote_jwt_secrets,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("vote_revocations"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_vote_revocations,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("vote_flush_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_vote_main_conf_t, flush_timeout),
      NULL },

    { ngx_string("vote_enqueue"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_vote_enqueue,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("vote_topic"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_vote_loc_conf_t, topic),
      NULL },

    { ngx_string("vote_key"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_vote_loc_conf_t, key),
      NULL },

    { ngx_string("vote_request_id"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_set_complex_value_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_vote_loc_conf_t, request_id),
      NULL },

    { ngx_string("vote_durability"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_enum_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_vote_loc_conf_t, durability),
      &ngx_http_vote_durability },

    { ngx_string("vote_ack_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_vote_loc_conf_t, ack_timeout),
      NULL },

    { ngx_string("vote_stall_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_vote_loc_conf_t, stall_timeout),
      NULL },

    { ngx_string("vote_max_body_size"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_vote_loc_conf_t, max_body),
      NULL },

    { ngx_string("vote_max_text_length"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_vote_loc_conf_t, max_text),
      NULL },

    { ngx_string("vote_max_json_depth"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_vote_loc_conf_t, max_depth),
      NULL },

    { ngx_string("vote_retry_after"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_vote_loc_conf_t, retry_after),
      NULL },

    { ngx_string("vote_jwt_leeway"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_vote_loc_conf_t, jwt_leeway),
      NULL },

    { ngx_string("vote_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_vote_metrics,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};

static ngx_http_module_t ngx_http_vote_module_ctx = {
    ngx_http_vote_add_variables,           /* preconfiguration */
    ngx_http_vote_postconfiguration,       /* postconfiguration */
    ngx_http_vote_create_main_conf,        /* create main configuration */
    ngx_http_vote_init_main_conf,          /* init main configuration */
    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */
    ngx_http_vote_create_loc_conf,         /* create location configuration */
    ngx_http_vote_merge_loc_conf           /* merge location configuration */
};

ngx_module_t ngx_http_vote_module = {
    NGX_MODULE_V1,
    &ngx_http_vote_module_ctx,             /* module context */
    ngx_http_vote_commands,                /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_vote_init_process,            /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_vote_exit_process,            /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};
/* clang-format on */

/* ---- main configuration ---- */

static void
ngx_http_vote_main_cleanup(void *data)
{
    ngx_http_vote_main_conf_t *vmcf = data;

    /* runs when the cycle that owns this configuration is destroyed (reload) */
    vc_catalog_free(vmcf->catalog);
    vmcf->catalog = NULL;
    if (vmcf->jwt_loaded) {
        vc_jwt_keyset_free(&vmcf->jwt_keys);
        vmcf->jwt_loaded = 0;
    }
}

static void *
ngx_http_vote_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_vote_main_conf_t *vmcf;
    ngx_pool_cleanup_t        *cln;

    vmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_vote_main_conf_t));
    if (vmcf == NULL) {
        return NULL;
    }
    vmcf->flush_timeout = NGX_CONF_UNSET_MSEC;
    vmcf->props = ngx_array_create(cf->pool, 8, sizeof(ngx_keyval_t));
    vmcf->local_props = ngx_array_create(cf->pool, 4, sizeof(ngx_keyval_t));
    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (vmcf->props == NULL || vmcf->local_props == NULL || cln == NULL) {
        return NULL;
    }
    cln->handler = ngx_http_vote_main_cleanup;
    cln->data = vmcf;
    return vmcf;
}

static char *
ngx_http_vote_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_vote_main_conf_t *vmcf = conf;

    ngx_conf_init_msec_value(vmcf->flush_timeout, 10000);
    return NGX_CONF_OK;
}

/* "vote_kafka_property name value" and "vote_kafka_local_property name value"
 * (cmd->offset picks the list): checked against librdkafka right away so a
 * typo fails `nginx -t`, not the worker start */
static char *
ngx_http_vote_property(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_vote_main_conf_t *vmcf = conf;
    ngx_str_t                 *value = cf->args->elts;
    ngx_keyval_t              *kv;
    rd_kafka_conf_t           *kc;
    char                       err[512];

    kc = rd_kafka_conf_new();
    if (kc == NULL) {
        return NGX_CONF_ERROR;
    }
    if (vc_kafka_conf_set(kc, (char *) value[1].data, (char *) value[2].data,
                          err, sizeof(err))
        < 0)
    {
        rd_kafka_conf_destroy(kc);
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid %s", err);
        return NGX_CONF_ERROR;
    }
    rd_kafka_conf_destroy(kc);

    kv = ngx_array_push(*(ngx_array_t **) ((u_char *) vmcf + cmd->offset));
    if (kv == NULL) {
        return NGX_CONF_ERROR;
    }
    kv->key = value[1];
    kv->value = value[2];
    return NGX_CONF_OK;
}

static char *
ngx_http_vote_catalog(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_vote_main_conf_t *vmcf = conf;
    ngx_str_t                 *value = cf->args->elts;
    char                       err[512];

    if (vmcf->catalog != NULL) {
        return "is duplicate";
    }
    vmcf->catalog_path = value[1];
    if (ngx_conf_full_name(cf->cycle, &vmcf->catalog_path, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }
    vmcf->catalog =
        vc_catalog_load((char *) vmcf->catalog_path.data, err, sizeof(err));
    if (vmcf->catalog == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "vote_poll_catalog: %s", err);
        return NGX_CONF_ERROR;
    }
    return NGX_CONF_OK;
}

static char *
ngx_http_vote_jwt_secrets(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_vote_main_conf_t *vmcf = conf;
    ngx_str_t                 *value = cf->args->elts;
    char                       err[512];

    if (vmcf->jwt_loaded) {
        return "is duplicate";
    }
    vmcf->jwt_path = value[1];
    if (ngx_conf_full_name(cf->cycle, &vmcf->jwt_path, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }
    if (vc_jwt_keyset_load(&vmcf->jwt_keys, (char *) vmcf->jwt_path.data, err,
                           sizeof(err))
        < 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "vote_jwt_secrets: %s", err);
        return NGX_CONF_ERROR;
    }
    vmcf->jwt_loaded = 1;
    return NGX_CONF_OK;
}

static char *
ngx_http_vote_revocations(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_vote_main_conf_t *vmcf = conf;
    ngx_str_t                 *value = cf->args->elts;

    if (vmcf->revocation_topic.data != NULL) {
        return "is duplicate";
    }
    if (ngx_strcmp(value[1].data, "off") == 0) {
        ngx_str_set(&vmcf->revocation_topic, "");
        return NGX_CONF_OK;
    }
    vmcf->revocation_topic = value[1];
    return NGX_CONF_OK;
}

/* ---- location configuration ---- */

static void *
ngx_http_vote_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_vote_loc_conf_t *vlcf;

    vlcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_vote_loc_conf_t));
    if (vlcf == NULL) {
        return NULL;
    }
    /* kind, topic, key, rkt: zeroed by pcalloc */
    vlcf->durability = NGX_CONF_UNSET_UINT;
    vlcf->ack_timeout = NGX_CONF_UNSET_MSEC;
    vlcf->stall_timeout = NGX_CONF_UNSET_MSEC;
    vlcf->max_body = NGX_CONF_UNSET_SIZE;
    vlcf->max_text = NGX_CONF_UNSET_UINT;
    vlcf->max_depth = NGX_CONF_UNSET_UINT;
    vlcf->retry_after = NGX_CONF_UNSET;
    vlcf->jwt_leeway = NGX_CONF_UNSET;
    vlcf->metrics = NGX_CONF_UNSET;
    return vlcf;
}

static char *
ngx_http_vote_check_loc(ngx_conf_t *cf, ngx_http_vote_loc_conf_t *conf)
{
    ngx_http_vote_main_conf_t *vmcf =
        ngx_http_conf_get_module_main_conf(cf, ngx_http_vote_module);

    if (conf->kind == 0) {
        return NGX_CONF_OK;
    }
    vmcf->used |= 1 << conf->durability;
    if (conf->topic.len == 0) {
        if (conf->kind == VC_KIND_CHAT) {
            ngx_str_set(&conf->topic, "chat");
        } else if (conf->kind == VC_KIND_ORDER) {
            ngx_str_set(&conf->topic, "orders");
        } else {
            ngx_str_set(&conf->topic, "votes");
        }
    }
    if (vmcf->brokers.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"vote_enqueue\" requires \"vote_kafka_brokers\"");
        return NGX_CONF_ERROR;
    }
    if (conf->kind == VC_KIND_VOTE && vmcf->catalog == NULL) {
        ngx_conf_log_error(
            NGX_LOG_EMERG, cf, 0,
            "\"vote_enqueue vote\" requires \"vote_poll_catalog\"");
        return NGX_CONF_ERROR;
    }
    if ((conf->kind == VC_KIND_CHAT || conf->kind == VC_KIND_ORDER)
        && !vmcf->jwt_loaded)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"vote_enqueue %s\" requires \"vote_jwt_secrets\"",
                           conf->kind == VC_KIND_CHAT ? "chat" : "order");
        return NGX_CONF_ERROR;
    }
    if (conf->max_text == 0 || conf->max_depth < 2) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"vote_max_text_length\" must be >= 1 and "
                           "\"vote_max_json_depth\" >= 2");
        return NGX_CONF_ERROR;
    }
    return NGX_CONF_OK;
}

static char *
ngx_http_vote_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_vote_loc_conf_t *prev = parent;
    ngx_http_vote_loc_conf_t *conf = child;

    /* vote_enqueue is per location on purpose: it is not inherited */
    /* the topic default depends on this location's kind, so it is applied in
     * ngx_http_vote_check_loc(), not inherited as a resolved string */
    ngx_conf_merge_str_value(conf->topic, prev->topic, "");
    if (conf->key == NULL) {
        conf->key = prev->key;
    }
    if (conf->request_id == NULL) {
        conf->request_id = prev->request_id;
    }
    ngx_conf_merge_uint_value(conf->durability, prev->durability,
                              NGX_HTTP_VOTE_LOCAL);
    ngx_conf_merge_msec_value(conf->ack_timeout, prev->ack_timeout, 5000);
    ngx_conf_merge_msec_value(conf->stall_timeout, prev->stall_timeout, 2000);
    ngx_conf_merge_size_value(conf->max_body, prev->max_body, 16384);
    ngx_conf_merge_uint_value(conf->max_text, prev->max_text, 2000);
    ngx_conf_merge_uint_value(conf->max_depth, prev->max_depth, 4);
    ngx_conf_merge_sec_value(conf->retry_after, prev->retry_after, 1);
    ngx_conf_merge_sec_value(conf->jwt_leeway, prev->jwt_leeway, 5);
    if (conf->jwt_leeway > VC_JWT_LEEWAY_MAX) {
        /* revocations are kept only VC_JWT_LEEWAY_MAX past exp */
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"vote_jwt_leeway\" must be at most %d seconds",
                           VC_JWT_LEEWAY_MAX);
        return NGX_CONF_ERROR;
    }
    ngx_conf_merge_value(conf->metrics, prev->metrics, 0);
    return ngx_http_vote_check_loc(cf, conf);
}

static char *
ngx_http_vote_enqueue(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_vote_loc_conf_t *vlcf = conf;
    ngx_http_core_loc_conf_t *clcf;
    ngx_str_t                *value = cf->args->elts;

    if (vlcf->kind != 0 || vlcf->metrics == 1) {
        return "is duplicate";
    }
    if (ngx_strcmp(value[1].data, "vote") == 0) {
        vlcf->kind = VC_KIND_VOTE;
    } else if (ngx_strcmp(value[1].data, "chat") == 0) {
        vlcf->kind = VC_KIND_CHAT;
    } else if (ngx_strcmp(value[1].data, "order") == 0) {
        vlcf->kind = VC_KIND_ORDER;
    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"vote_enqueue\", "
                           "expected \"vote\", \"chat\" or \"order\"",
                           &value[1]);
        return NGX_CONF_ERROR;
    }
    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_vote_handler;
    return NGX_CONF_OK;
}

static char *
ngx_http_vote_metrics(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_vote_loc_conf_t *vlcf = conf;
    ngx_http_core_loc_conf_t *clcf;

    if (vlcf->kind != 0 || vlcf->metrics == 1) {
        return "is duplicate";
    }
    vlcf->metrics = 1;
    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_vote_metrics_handler;
    return NGX_CONF_OK;
}

static ngx_int_t
ngx_http_vote_postconfiguration(ngx_conf_t *cf)
{
    ngx_http_vote_main_conf_t *vmcf =
        ngx_http_conf_get_module_main_conf(cf, ngx_http_vote_module);

    vmcf->shm_zone = ngx_http_vote_metrics_zone(cf);
    return vmcf->shm_zone != NULL ? NGX_OK : NGX_ERROR;
}

/* ---- worker lifecycle ---- */

static ngx_int_t
ngx_http_vote_init_process(ngx_cycle_t *cycle)
{
    ngx_http_vote_main_conf_t *vmcf;

    vmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_vote_module);
    if (vmcf == NULL) {
        return NGX_OK; /* no http{} block */
    }
    ngx_http_vote_metrics_worker_init(vmcf->shm_zone);
    if (!vmcf->used) {
        return NGX_OK;
    }
    if (ngx_http_vote_producer_init(cycle, vmcf) != NGX_OK) {
        return NGX_ERROR;
    }
    if (vmcf->revocation_topic.len > 0
        && ngx_http_vote_revocations_init(cycle, vmcf) != NGX_OK)
    {
        return NGX_ERROR;
    }
    return NGX_OK;
}

static void
ngx_http_vote_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_vote_main_conf_t *vmcf;

    vmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_vote_module);
    if (vmcf == NULL) {
        return;
    }
    if (vmcf->used) {
        ngx_http_vote_revocations_exit(cycle);
        ngx_http_vote_producer_exit(cycle, vmcf);
    }
    ngx_http_vote_metrics_worker_exit();
}

/* ---- variables ---- */

enum {
    NGX_HTTP_VOTE_VAR_MSG_ID = 0,
    NGX_HTTP_VOTE_VAR_MSG_KEY,
    NGX_HTTP_VOTE_VAR_CONVERSATION,
    NGX_HTTP_VOTE_VAR_SENDER
};

static ngx_int_t
ngx_http_vote_variable(ngx_http_request_t *r, ngx_http_variable_value_t *v,
                       uintptr_t data)
{
    ngx_http_vote_ctx_t *ctx = ngx_http_get_module_ctx(r, ngx_http_vote_module);
    ngx_str_t            s = ngx_null_string;

    if (ctx != NULL) {
        switch (data) {
        case NGX_HTTP_VOTE_VAR_MSG_ID:
            if (ctx->id[0]) {
                s.data = (u_char *) ctx->id;
                s.len = VC_ULID_LEN;
            }
            break;
        case NGX_HTTP_VOTE_VAR_MSG_KEY: s = ctx->key; break;
        case NGX_HTTP_VOTE_VAR_CONVERSATION: s = ctx->conversation; break;
        case NGX_HTTP_VOTE_VAR_SENDER: s = ctx->sender; break;
        }
    }
    if (s.len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }
    v->data = s.data;
    v->len = s.len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    return NGX_OK;
}

/* NOCACHEABLE: the id appears only after validation, later than a log_format
 * or a vote_key might first look at it */
/* clang-format off */
static ngx_http_variable_t ngx_http_vote_vars[] = {

    { ngx_string("vote_msg_id"), NULL, ngx_http_vote_variable,
      NGX_HTTP_VOTE_VAR_MSG_ID, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("vote_msg_key"), NULL, ngx_http_vote_variable,
      NGX_HTTP_VOTE_VAR_MSG_KEY, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("vote_conversation"), NULL, ngx_http_vote_variable,
      NGX_HTTP_VOTE_VAR_CONVERSATION, NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("vote_sender"), NULL, ngx_http_vote_variable,
      NGX_HTTP_VOTE_VAR_SENDER, NGX_HTTP_VAR_NOCACHEABLE, 0 },

      ngx_http_null_variable
};
/* clang-format on */

static ngx_int_t
ngx_http_vote_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t *var, *v;

    for (v = ngx_http_vote_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }
        var->get_handler = v->get_handler;
        var->data = v->data;
    }
    return NGX_OK;
}
