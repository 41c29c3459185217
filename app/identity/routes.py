"""Enrolment, sign-in with a security key, sessions, key management and user administration.

Contract (docs/security.md): ``GET /enrol`` has a form with ``email`` and ``code``; ``POST
/enrol`` starts an enrolment session. ``POST /auth/register/options`` returns
PublicKeyCredentialCreationOptionsJSON and ``POST /auth/register/verify`` takes
RegistrationResponseJSON (inside an enrolment or step-up session). ``POST /auth/login/options``
(``{"email": ...}`` or ``{}``) returns PublicKeyCredentialRequestOptionsJSON and ``POST
/auth/login/verify`` takes AuthenticationResponseJSON. All carry the CSRF token (header
``X-CSRFToken`` for JSON, form field for forms).
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.datastructures import Cookie, State
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotFoundException, PermissionDeniedException
from litestar.params import Body, FromPath, JSONBody, QueryParameter
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_200_OK
from webauthn.helpers import bytes_to_base64url

from app.audit import service as audit
from app.audit.service import Actor, AuditUnavailableError
from app.database import write_transaction
from app.identity import ceremonies, keys, service, sessions
from app.identity.ceremonies import CeremonyRefusedError
from app.identity.service import ROLE_LABELS, EnrolmentRefusedError, PractitionerView, Role
from app.identity.sessions import SessionState, signed_in_with_role
from app.involvement import service as involvement
from app.records.validation import is_email, is_name, is_org_text

log = logging.getLogger("signpost.auth")

FormData = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
LOGIN_FAILED = "That security key could not sign you in. Check you are using your own key, then try again."
ENROL_FAILED = "The email address or enrolment code is not right, or the code has expired or been used."
ALL_ROLES = tuple(Role)
ADMIN = {"roles": (Role.la_admin,)}
#: Changing who may use Signpost needs a key touch within the last five minutes.
ADMIN_ACTION = {"roles": (Role.la_admin,), "step_up": True, "step_up_return": "/admin/users"}
#: Roles a local-authority admin may grant on the web. Privileged roles (privacy officer,
#: disclosure approver, police) are created by an operator with ``signpost users create``, so
#: no single admin can mint both a police requester and the approver who decides their requests.
GRANTABLE_ROLES = {
    Role.practitioner: ROLE_LABELS[Role.practitioner],
    Role.la_admin: ROLE_LABELS[Role.la_admin],
}


def _now(state: State) -> datetime:
    now: datetime = state.clock()
    return now


def _session(request: Request[Any, Any, Any]) -> SessionState | None:
    auth: SessionState | None = request.scope.get("auth")
    return auth


def _user(request: Request[Any, Any, Any]) -> PractitionerView:
    user: PractitionerView = request.scope["user"]
    return user


def _actor(request: Request[Any, Any, Any]) -> Actor:
    return Actor.of(_user(request))


async def _actor_for(practitioner_id: int) -> Actor:
    actor = await service.actor_for(practitioner_id)
    if actor is None:  # the account was deleted mid-ceremony: nothing to act for
        raise NotFoundException()
    return actor


async def _authority_of(practitioner_id: int) -> int | None:
    actor = await service.actor_for(practitioner_id)
    return actor.authority_id if actor else None


def _session_cookie(state: State, session: SessionState | None) -> Cookie:
    settings = state.settings
    return Cookie(
        key=sessions.session_cookie_name(settings.secure_cookies),
        value=session.token if session else "",
        path="/",
        secure=settings.secure_cookies,
        httponly=True,
        samesite="strict",
        max_age=None if session else 0,
    )


def _json(
    body: dict[str, Any],
    status: int = HTTP_200_OK,
    session: SessionState | None = None,
    *,
    state: State | None = None,
) -> Response[dict[str, Any]]:
    cookies = [_session_cookie(state, session)] if state is not None and session is not None else []
    return Response(body, status_code=status, cookies=cookies, headers={"Cache-Control": "no-store"})


def _refused(message: str, status: int = 401) -> Response[dict[str, Any]]:
    return _json({"error": message}, status)


def _client(request: Request[Any, Any, Any], purpose: str) -> str:
    """The throttle subject for this client and purpose (sign-in and enrolment count apart).
    The address is the proxy-reported one only when the proxy is trusted (``serve``)."""
    return f"client:{purpose}:{request.client.host if request.client else 'unknown'}"


# Pages open to everyone


@get("/login", sync_to_thread=False)
def login_page(request: Request[Any, Any, Any]) -> Template:
    return Template("identity/login.html", context={"signed_in": request.scope.get("user") is not None})


@get("/enrol", sync_to_thread=False)
def enrol_page() -> Template:
    return Template("identity/enrol.html", context={"errors": {}, "values": {}})


@post("/enrol")
async def enrol(request: Request[Any, Any, Any], state: State, data: FormData) -> Template | Redirect:
    email = data.get("email", "").strip()[:254]
    code = data.get("code", "").strip()[:40]
    errors: dict[str, str] = {}
    if not email:
        errors["email"] = "Enter your work email address"
    elif not is_email(email):
        errors["email"] = "Enter an email address in the correct format, like name@example.org"
    if not code:
        errors["code"] = "Enter the enrolment code you were given"
    now = _now(state)
    if not errors:
        try:
            await keys.check_throttle([_client(request, "enrol")], now)
            practitioner_id = await service.redeem_code(state.keyring, email, code, now)
        except keys.ThrottledError as exc:
            response = Template(
                "errors/error.html",
                status_code=429,
                context={
                    "status_code": 429,
                    "title": "You have made too many requests",
                    "message": "Wait a few minutes, then try again.",
                },
            )
            response.headers["Retry-After"] = str(exc.retry_after)
            return response
        except EnrolmentRefusedError:
            await keys.record_failure([_client(request, "enrol")], now)
            log.info("auth.enrolment_refused")
            errors["code"] = ENROL_FAILED
        else:
            previous = _session(request)
            if previous is not None:
                await sessions.end(previous.id)
            session = await sessions.start("enrolment", practitioner_id, now)
            log.info("auth.enrolment_started practitioner=%s", practitioner_id)
            return Redirect("/enrol/key", status_code=303, cookies=[_session_cookie(state, session)])
    return Template(
        "identity/enrol.html", context={"errors": errors, "values": {"email": email}}, status_code=400
    )


@get("/enrol/key", sync_to_thread=False)
def enrol_key_page(request: Request[Any, Any, Any]) -> Template | Redirect:
    session = _session(request)
    if session is None or session.purpose != "enrolment":
        return Redirect("/enrol", status_code=303)
    return Template("identity/register_key.html", context={"stage": "first"})


# The WebAuthn ceremonies (JSON)


@post("/auth/register/options")
async def register_options(request: Request[Any, Any, Any], state: State) -> Response[dict[str, Any]]:
    session = _session(request)
    now = _now(state)
    allowed = (
        session is not None
        and session.practitioner_id is not None
        and (session.purpose == "enrolment" or (session.purpose == "signed_in" and session.stepped_up(now)))
    )
    if not allowed or session is None or session.practitioner_id is None:
        return _refused("Start again from the enrolment page, or confirm it is you with your key first.", 403)
    practitioner = await service.load_practitioner(state.keyring, session.practitioner_id)
    if practitioner is None or not practitioner.active:
        return _refused("This account cannot add security keys.", 403)
    challenge = secrets.token_bytes(32)
    await sessions.set_challenge(session, challenge, "register", now)
    options = ceremonies.registration_options(
        state.settings,
        practitioner_id=practitioner.id,
        email=practitioner.email,
        name=practitioner.name,
        existing=await keys.active_credential_ids(practitioner.id),
        challenge=challenge,
    )
    return _json(options)


@post("/auth/register/verify")
async def register_verify(
    request: Request[Any, Any, Any], state: State, data: JSONBody[dict[str, Any]]
) -> Response[dict[str, Any]]:
    session = _session(request)
    now = _now(state)
    if (
        session is None
        or session.practitioner_id is None
        or session.purpose not in ("enrolment", "signed_in")
    ):
        return _refused("Start again from the enrolment page.", 403)
    if session.purpose == "signed_in" and not session.stepped_up(now):
        return _refused("Confirm it is you with your security key first.", 403)
    practitioner_id = session.practitioner_id
    actor = await _actor_for(practitioner_id)
    challenge = await sessions.take_challenge(session, "register", now)
    if challenge is None:
        await _key_refused(actor, "no_challenge", now)
        return _refused("That took too long. Try again.", 400)
    try:
        new_key = ceremonies.verify_registration(state.settings, data, challenge)
    except CeremonyRefusedError as exc:
        log.info("auth.registration_refused practitioner=%s reason=%r", practitioner_id, exc.reason)
        await _key_refused(actor, exc.code, now)
        return _refused(
            "Signpost cannot accept this security key. Use a hardware key from your organisation.", 400
        )
    if await keys.is_registered(new_key.credential_id):
        await _key_refused(actor, "already_registered", now)
        return _refused("This security key is already registered. Use a different key.", 400)
    async with write_transaction(state.engine):  # audit rows last: they take the writer lock
        if session.purpose == "enrolment":
            await service.mark_signed_in(practitioner_id, now)  # enrolling is their first sign-in
            signed_in = await sessions.sign_in(session, practitioner_id, now, notice=None)
        await keys.add_key(practitioner_id, new_key, now, actor)
        if session.purpose == "enrolment":
            await audit.record("auth.login", actor, at=now, detail={"via": "enrolment"})
    if session.purpose == "enrolment":
        return _json({"redirect": "/enrol/backup"}, session=signed_in, state=state)
    return _json({"redirect": "/keys?added=1"})


async def _key_refused(actor: Actor, code: str, now: datetime) -> None:
    log.info("auth.registration_refused practitioner=%s reason=%s", actor.id, code)
    await audit.record(
        "auth.key_refused",
        actor,
        at=now,
        subjects=[f"practitioner:{actor.id}"],
        outcome="refused",
        detail={"reason": code},
    )


@post("/auth/login/options")
async def login_options(
    request: Request[Any, Any, Any], state: State, data: JSONBody[dict[str, Any]]
) -> Response[dict[str, Any]]:
    now = _now(state)
    session = _session(request)
    email = data.get("email")
    allowed: list[bytes] | None = None
    claimed: int | None = None
    if session is not None and session.purpose == "signed_in" and session.practitioner_id is not None:
        claimed = session.practitioner_id  # a step-up: only this practitioner's keys
        allowed = await keys.active_credential_ids(claimed)
    elif isinstance(email, str) and email.strip():
        claimed = await service.find_by_email(state.keyring, email[:254])
        # The same queries whether or not the account exists, and decoys where it has no key.
        allowed = await keys.active_credential_ids(claimed if claimed is not None else -1)
        if not allowed:
            allowed = keys.decoy_credential_ids(state.app_secret, email[:254])
    new_session = None
    if session is None or session.purpose == "enrolment":
        session = new_session = await sessions.start("anonymous", None, now)
    if session.purpose == "anonymous":
        await sessions.claim(session, claimed)
    challenge = secrets.token_bytes(32)
    await sessions.set_challenge(session, challenge, "login", now)
    options = ceremonies.authentication_options(state.settings, allowed=allowed, challenge=challenge)
    return _json(options, session=new_session, state=state)


@post("/auth/login/verify")
async def login_verify(
    request: Request[Any, Any, Any], state: State, data: JSONBody[dict[str, Any]]
) -> Response[dict[str, Any]]:
    now = _now(state)
    session = _session(request)
    if session is None:
        return _refused(LOGIN_FAILED)
    client = _client(request, "login")
    subjects = [client]
    known: ceremonies.KeyRecord | None = None
    try:
        await keys.check_throttle(subjects, now)
        key = known = await keys.key_for_assertion(data)
        # Per account *and* client: a stranger's failures must not lock the owner out.
        subjects.append(f"account:{key.practitioner_id}:{client}")
        await keys.check_throttle(subjects, now)
        challenge = await sessions.take_challenge(session, "login", now)
        if challenge is None:
            raise CeremonyRefusedError("login: no live challenge (expired or already used)", "no_challenge")
        if session.practitioner_id is not None and session.practitioner_id != key.practitioner_id:
            raise CeremonyRefusedError(
                f"login: credential {key.id} belongs to another practitioner", "wrong_practitioner"
            )
        handle = (
            data.get("response", {}).get("userHandle") if isinstance(data.get("response"), dict) else None
        )
        if handle and handle != _user_handle(key.practitioner_id):
            raise CeremonyRefusedError(
                f"login: user handle does not match credential {key.id}", "user_handle_mismatch"
            )
        assertion = ceremonies.verify_assertion(state.settings, data, challenge, key)
        if assertion.counter_regressed:
            await keys.disable_cloned_key(key, now, await _authority_of(key.practitioner_id))
            raise CeremonyRefusedError(
                f"login: counter regression on credential {key.id}", "counter_regression"
            )
        practitioner = await service.load_practitioner(state.keyring, key.practitioner_id)
        if practitioner is None or not practitioner.active:
            raise CeremonyRefusedError(f"login: practitioner {key.practitioner_id} is not active", "inactive")
    except keys.ThrottledError as exc:
        log.info("auth.login_throttled")
        response = _refused("Too many attempts. Wait a few minutes, then try again.", 429)
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    except CeremonyRefusedError as exc:
        log.info("auth.login_failed reason=%r", exc.reason)
        audited = _key_subjects(known) if known else []
        authority = await _authority_of(known.practitioner_id) if known else None
        await keys.record_failure(subjects, now)  # counted even if the audit write then fails
        await audit.record(
            "auth.login_failed",
            audit.anonymous(authority),
            at=now,
            subjects=audited,
            outcome="refused",
            detail={"reason": exc.code},
        )
        return _refused(LOGIN_FAILED)
    changed = practitioner.keys_changed_at
    notice = (
        "keys_changed"
        if changed and (practitioner.last_login_at is None or changed > practitioner.last_login_at)
        else None
    )
    actor = Actor.of(practitioner)
    async with write_transaction(state.engine):
        await keys.record_use(key, assertion.new_sign_count, now, full_sign_in=session.purpose != "signed_in")
        if session.purpose == "signed_in":
            await sessions.mark_stepped_up(session, now)
            await audit.record("auth.step_up", actor, at=now, subjects=_key_subjects(key))
        else:
            signed_in = await sessions.sign_in(session, key.practitioner_id, now, notice)
            await audit.record("auth.login", actor, at=now, subjects=_key_subjects(key))
    if session.purpose == "signed_in":
        log.info("auth.step_up practitioner=%s", key.practitioner_id)
        return _json({"redirect": "/keys"})
    log.info("auth.login practitioner=%s credential=%s", key.practitioner_id, key.id)
    return _json({"redirect": "/home"}, session=signed_in, state=state)


def _key_subjects(key: ceremonies.KeyRecord) -> list[str]:
    return [f"practitioner:{key.practitioner_id}", f"credential:{key.id}"]


def _user_handle(practitioner_id: int) -> str:
    return bytes_to_base64url(practitioner_id.to_bytes(8, "big"))


# Signed-in pages


@post("/logout")
async def logout(request: Request[Any, Any, Any], state: State) -> Redirect:
    """End the session if there is one; always clear the cookie and the site's data."""
    session = _session(request)
    if session is not None:
        await sessions.end(session.id)  # ended whatever happens next: signing out must always work
        user = request.scope.get("user")
        if user is not None:
            try:
                await audit.record("auth.logout", Actor.of(user), at=_now(state))
            except AuditUnavailableError:
                log.error("auth.logout_not_audited practitioner=%s", user.id)
    return Redirect(
        "/?signed_out=1",
        status_code=303,
        cookies=[_session_cookie(state, None)],
        headers={"Clear-Site-Data": '"cache", "cookies", "storage"'},
    )


@get("/home", guards=[signed_in_with_role], opt={"roles": ALL_ROLES})
async def home(request: Request[Any, Any, Any]) -> Template:
    session = _session(request)
    notice = session.notice if session else None
    if session is not None and notice:
        await sessions.clear_notice(session)
    user = _user(request)
    notices = await involvement.unread(user.id) if user.role in (Role.practitioner, Role.la_admin) else []
    return Template(
        "identity/home.html",
        context={"user": user, "role_label": ROLE_LABELS[user.role], "notice": notice, "notices": notices},
    )


@get("/enrol/backup", guards=[signed_in_with_role], opt={"roles": ALL_ROLES})
async def enrol_backup_page() -> Template:
    """After the first key: the session that enrolment signed in already counts as a key touch."""
    return Template("identity/register_key.html", context={"stage": "backup"})


@get("/step-up", guards=[signed_in_with_role], opt={"roles": ALL_ROLES})
async def step_up_page(next_page: Annotated[str | None, QueryParameter(name="next")] = None) -> Template:
    """Confirm with a key touch, then go back to ``next`` (a local path; else key management)."""
    return Template("identity/step_up.html", context={"next": sessions.local_path(next_page, "/keys")})


async def _keys_page(
    practitioner_id: int, *, stepped_up: bool, added: bool = False, errors: dict[str, str] | None = None
) -> Template:
    """The key management page; with ``errors`` it answers 400 and shows them."""
    return Template(
        "identity/keys.html",
        status_code=400 if errors else 200,
        context={
            "keys": await keys.keys_of(practitioner_id),
            "stepped_up": stepped_up,
            "added": added,
            "errors": errors or {},
        },
    )


@get("/keys", guards=[signed_in_with_role], opt={"roles": ALL_ROLES})
async def keys_page(request: Request[Any, Any, Any], state: State) -> Template:
    session = _session(request)
    return await _keys_page(
        _user(request).id,
        stepped_up=session is not None and session.stepped_up(_now(state)),
        added=request.query_params.get("added") == "1",
    )


@get("/keys/add", guards=[signed_in_with_role], opt={"roles": ALL_ROLES, "step_up": True})
async def add_key_page() -> Template:
    return Template("identity/register_key.html", context={"stage": "add"})


@post(
    "/keys/{key_id:int}/rename",
    guards=[signed_in_with_role],
    opt={"roles": ALL_ROLES, "step_up": True, "step_up_return": "/keys"},
)
async def rename_key(
    request: Request[Any, Any, Any], state: State, key_id: FromPath[int], data: FormData
) -> Template | Redirect:
    name = data.get("name", "").strip()
    user = _user(request)
    if not name or len(name) > 60 or not is_org_text(name):
        error = "Enter a name of up to 60 letters, numbers and spaces"
        return await _keys_page(user.id, stepped_up=True, errors={f"name-{key_id}": error})
    if not await keys.rename_key(user.id, key_id, name, _now(state), Actor.of(user)):
        raise NotFoundException()
    return Redirect("/keys", status_code=303)


@post(
    "/keys/{key_id:int}/revoke",
    guards=[signed_in_with_role],
    opt={"roles": ALL_ROLES, "step_up": True, "step_up_return": "/keys"},
)
async def revoke_own_key(
    request: Request[Any, Any, Any], state: State, key_id: FromPath[int]
) -> Template | Redirect:
    user = _user(request)
    now = _now(state)
    session = _session(request)
    revoked = await keys.revoke_key(
        user.id, key_id, now, Actor.of(user), allow_last=False, keep_session=session.id if session else None
    )
    if not revoked:
        mine = {k.id for k in await keys.keys_of(user.id)}
        if key_id not in mine:
            raise NotFoundException()
        error = "You cannot remove your only key. Add another key first."
        return await _keys_page(user.id, stepped_up=True, errors={f"revoke-{key_id}": error})
    return Redirect("/keys", status_code=303)


# The local authority's Signpost team: enrolling and revoking practitioners


async def _practitioner_in_my_authority(
    request: Request[Any, Any, Any], state: State, practitioner_id: int
) -> PractitionerView:
    target = await service.load_practitioner(state.keyring, practitioner_id)
    if target is None or target.local_authority_id != _user(request).local_authority_id:
        raise NotFoundException()  # another authority's users do not exist, as far as this admin can tell
    return target


@get("/admin/users", guards=[signed_in_with_role], opt=ADMIN)
async def admin_users(request: Request[Any, Any, Any], state: State) -> Template:
    people = await service.practitioners_of_authority(state.keyring, _user(request).local_authority_id)
    return Template("admin/users.html", context={"people": people, "role_labels": ROLE_LABELS})


@get("/admin/users/new", guards=[signed_in_with_role], opt=ADMIN)
async def admin_new_user_page(request: Request[Any, Any, Any]) -> Template:
    organisations = await service.organisations_of_authority(_user(request).local_authority_id)
    return Template(
        "admin/new_user.html",
        context={"errors": {}, "values": {}, "roles": GRANTABLE_ROLES, "organisations": organisations},
    )


@post("/admin/users/new", guards=[signed_in_with_role], opt=ADMIN_ACTION)
async def admin_new_user(request: Request[Any, Any, Any], state: State, data: FormData) -> Template:
    admin = _user(request)
    values = {k: data.get(k, "").strip() for k in ("name", "email", "role", "organisation")}
    errors: dict[str, str] = {}
    if not values["name"] or len(values["name"]) > 120 or not is_name(values["name"]):
        errors["name"] = "Enter the person's full name using letters, spaces, hyphens and apostrophes"
    if not values["email"] or len(values["email"]) > 254 or not is_email(values["email"]):
        errors["email"] = "Enter a work email address, like name@example.org"
    elif await service.find_by_email(state.keyring, values["email"]) is not None:
        errors["email"] = "Someone with this email address already has an account"
    if values["role"] not in {r.value for r in GRANTABLE_ROLES}:
        errors["role"] = "Select the person's role"
    if (
        not values["organisation"]
        or len(values["organisation"]) > 120
        or not is_org_text(values["organisation"])
    ):
        errors["organisation"] = "Enter the organisation's name using letters and numbers"
    if errors:
        organisations = await service.organisations_of_authority(admin.local_authority_id)
        return Template(
            "admin/new_user.html",
            status_code=400,
            context={
                "errors": errors,
                "values": values,
                "roles": ROLE_LABELS,
                "organisations": organisations,
            },
        )
    practitioner_id, code = await service.create_practitioner(
        state.keyring,
        name=values["name"],
        email=values["email"],
        role=Role(values["role"]),
        authority_id=admin.local_authority_id,
        organisation=values["organisation"],
        now=_now(state),
        actor=Actor.of(admin),
    )
    log.info("admin.user_created by=%s practitioner=%s", admin.id, practitioner_id)
    return Template(
        "admin/code_issued.html",
        context={"name": values["name"], "code": code, "origin": state.settings.origin},
    )


@post("/admin/users/{practitioner_id:int}/code", guards=[signed_in_with_role], opt=ADMIN_ACTION)
async def admin_reissue_code(
    request: Request[Any, Any, Any], state: State, practitioner_id: FromPath[int]
) -> Template:
    target = await _practitioner_in_my_authority(request, state, practitioner_id)
    if not target.active:
        raise NotFoundException()
    code = await service.reissue_code(target.id, _now(state), _actor(request))
    log.info("admin.code_reissued by=%s practitioner=%s", _user(request).id, target.id)
    return Template(
        "admin/code_issued.html", context={"name": target.name, "code": code, "origin": state.settings.origin}
    )


@post("/admin/users/{practitioner_id:int}/child-protection", guards=[signed_in_with_role], opt=ADMIN_ACTION)
async def admin_set_child_protection(
    request: Request[Any, Any, Any], state: State, practitioner_id: FromPath[int], data: FormData
) -> Redirect:
    """Grant (``child_protection=yes``) or withdraw the child-protection permission, which
    allows break-glass access to shielded records."""
    target = await _practitioner_in_my_authority(request, state, practitioner_id)
    if not target.active or target.role not in (Role.practitioner, Role.la_admin):
        raise NotFoundException()
    if target.id == _user(request).id:  # nobody grants themselves break-glass
        raise PermissionDeniedException()
    allowed = data.get("child_protection") == "yes"
    await service.set_child_protection(target.id, allowed, _now(state), _actor(request))
    return Redirect("/admin/users", status_code=303)


@post("/admin/users/{practitioner_id:int}/revoke", guards=[signed_in_with_role], opt=ADMIN_ACTION)
async def admin_revoke_user(
    request: Request[Any, Any, Any], state: State, practitioner_id: FromPath[int]
) -> Redirect:
    target = await _practitioner_in_my_authority(request, state, practitioner_id)
    await service.revoke_practitioner(target.id, _now(state), _actor(request))
    log.info("admin.user_revoked by=%s practitioner=%s", _user(request).id, target.id)
    return Redirect("/admin/users", status_code=303)


@get("/admin/users/{practitioner_id:int}/keys", guards=[signed_in_with_role], opt=ADMIN)
async def admin_user_keys(
    request: Request[Any, Any, Any], state: State, practitioner_id: FromPath[int]
) -> Template:
    target = await _practitioner_in_my_authority(request, state, practitioner_id)
    return Template("admin/user_keys.html", context={"person": target, "keys": await keys.keys_of(target.id)})


@post(
    "/admin/users/{practitioner_id:int}/keys/{key_id:int}/revoke",
    guards=[signed_in_with_role],
    opt=ADMIN_ACTION,
)
async def admin_revoke_key(
    request: Request[Any, Any, Any], state: State, practitioner_id: FromPath[int], key_id: FromPath[int]
) -> Redirect:
    target = await _practitioner_in_my_authority(request, state, practitioner_id)
    if not await keys.revoke_key(target.id, key_id, _now(state), _actor(request), allow_last=True):
        raise NotFoundException()
    log.info("admin.key_revoked by=%s practitioner=%s credential=%s", _user(request).id, target.id, key_id)
    return Redirect(f"/admin/users/{target.id}/keys", status_code=303)


ROUTES = [
    login_page,
    enrol_page,
    enrol,
    enrol_key_page,
    register_options,
    register_verify,
    login_options,
    login_verify,
    logout,
    home,
    enrol_backup_page,
    step_up_page,
    keys_page,
    add_key_page,
    rename_key,
    revoke_own_key,
    admin_users,
    admin_new_user_page,
    admin_new_user,
    admin_reissue_code,
    admin_revoke_user,
    admin_set_child_protection,
    admin_user_keys,
    admin_revoke_key,
]
