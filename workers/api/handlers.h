/*
 * handlers.h - every HTTP endpoint of the daemon (routed by router.c).
 */
#ifndef API_HANDLERS_H
#define API_HANDLERS_H

#include "api.h"

/* handlers_auth.c */
enum MHD_Result handle_register(api_request *r);
enum MHD_Result handle_login(api_request *r);
enum MHD_Result handle_logout(api_request *r);
enum MHD_Result handle_me(api_request *r);

/* handlers_polls.c */
enum MHD_Result handle_polls(api_request *r);
enum MHD_Result handle_results(api_request *r);
enum MHD_Result handle_recent(api_request *r);
enum MHD_Result handle_poll_stream(api_request *r);

/* handlers_chat.c */
enum MHD_Result handle_conversations(api_request *r);
enum MHD_Result handle_messages(api_request *r);
enum MHD_Result handle_chat_stream(api_request *r);

/* handlers_books.c */
enum MHD_Result handle_book_create(api_request *r);
enum MHD_Result handle_books(api_request *r);
enum MHD_Result handle_book(api_request *r);
enum MHD_Result handle_book_update(api_request *r);
enum MHD_Result handle_book_delete(api_request *r);

/* handlers_orders.c */
enum MHD_Result handle_orders(api_request *r);
enum MHD_Result handle_order(api_request *r);

/* handlers_ops.c */
enum MHD_Result handle_healthz(api_request *r);
enum MHD_Result handle_metrics(api_request *r);

#endif
