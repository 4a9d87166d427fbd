//! The five CRUD handlers every directory-like resource has.

/// The runner a CRUD macro option names, or the default.
macro_rules! chosen_runner {
    ($default:ident) => {
        $default
    };
    ($default:ident, $chosen:ident) => {
        $chosen
    };
}

/// Declares the five CRUD handlers of one resource; they differ only in
/// path, types and the service module they call. `prepare` fills a new
/// item's defaults from the settings before it is created. A service whose
/// `create` runs its own write transaction (to act after the commit) says
/// `create_runner = run_db`; by default `create` runs inside one.
macro_rules! crud_handlers {
    ($tag:literal, $path:literal, $item:literal, $service:ident, $input:ty, $view:ty,
     $create:ident, $list:ident, $get:ident, $update:ident, $delete:ident, $delete_fn:ident
     $(, prepare = $prepare:path)? $(, create_runner = $runner:ident)?) => {
        #[utoipa::path(post, path = $path, tag = $tag, request_body = $input,
            responses((status = 201, body = $view), (status = 422, body = Problem)), security(("bearer" = [])))]
        #[post($path)]
        async fn $create(state: web::Data<AppState>, caller: Caller, body: web::Bytes) -> Result<HttpResponse, ApiError> {
            #[allow(unused_mut)]
            let mut input: $input = parse_json(&body)?;
            $($prepare(&mut input, &state.settings);)?
            let view = chosen_runner!(run_write $(, $runner)?)(&state, move |conn| $service::create(conn, &caller.0, &input)).await?;
            Ok(HttpResponse::Created().json(view))
        }

        #[utoipa::path(get, path = $path, tag = $tag,
            responses((status = 200, body = [$view])), security(("bearer" = [])))]
        #[get($path)]
        async fn $list(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
            let views = run_db(&state, move |conn| $service::list(conn, &caller.0)).await?;
            Ok(HttpResponse::Ok().json(views))
        }

        #[utoipa::path(get, path = $item, tag = $tag, params(("id" = String, Path)),
            responses((status = 200, body = $view), (status = 404, body = Problem)), security(("bearer" = [])))]
        #[get($item)]
        async fn $get(state: web::Data<AppState>, caller: Caller, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
            let view = run_db(&state, move |conn| $service::get(conn, &caller.0, &id)).await?;
            Ok(HttpResponse::Ok().json(view))
        }

        #[utoipa::path(patch, path = $item, tag = $tag, params(("id" = String, Path)), request_body = $input,
            responses((status = 200, body = $view), (status = 422, body = Problem)), security(("bearer" = [])))]
        #[patch($item)]
        async fn $update(state: web::Data<AppState>, caller: Caller, id: web::Path<String>, body: web::Bytes) -> Result<HttpResponse, ApiError> {
            let input: $input = parse_json(&body)?;
            let view = run_db(&state, move |conn| $service::update(conn, &caller.0, &id, &input)).await?;
            Ok(HttpResponse::Ok().json(view))
        }

        #[utoipa::path(delete, path = $item, tag = $tag, params(("id" = String, Path)),
            responses((status = 204), (status = 404, body = Problem), (status = 409, body = Problem)), security(("bearer" = [])))]
        #[delete($item)]
        async fn $delete(state: web::Data<AppState>, caller: Caller, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
            run_db(&state, move |conn| $service::$delete_fn(conn, &caller.0, &id).map(drop)).await?;
            Ok(no_content())
        }
    };
}
