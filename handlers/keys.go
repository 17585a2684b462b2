package handlers

import (
	"github.com/gofiber/fiber/v2"

	"github.com/clinic/interactions/models"
)

// CreateKey issues a new API key.
//
//	@Summary		Create an API key
//	@Description	Issues a random key (256 bits) for a name and a role. The key is in this answer only: only its hash is stored. For admins.
//	@ID				createKey
//	@Tags			keys
//	@Accept			json
//	@Produce		json
//	@Param			key	body		models.NewKeyRequest	true	"Name and role"
//	@Success		201	{object}	models.IssuedKey
//	@Failure		400	{object}	ErrorResponse	"malformed_body or validation_failed: a bad name or role"
//	@Failure		409	{object}	ErrorResponse	"conflict: a key has this name"
//	@Failure		415	{object}	ErrorResponse	"unsupported_media_type: the body is not JSON"
//	@Security		BearerAuth
//	@Failure		401		{object}	ErrorResponse		"unauthenticated: no valid API key"
//	@Failure		403		{object}	ErrorResponse		"forbidden: the key's role does not allow this request"
//	@Failure		413		{object}	ErrorResponse		"payload_too_large: the body is over 1 MiB"
//	@Failure		429		{object}	ErrorResponse		"rate_limited: too many requests for this API key"
//	@Failure		500		{object}	ErrorResponse		"internal: an unexpected error, logged with the request id"
//	@Failure		503		{object}	ErrorResponse		"unavailable: the store did not answer in time, or is busy with reads of whole collections"
//	@Header			201		{string}	Location			"URL of the new key"
//	@Header			401		{string}	WWW-Authenticate	"the scheme to authenticate with: Bearer"
//	@Header			429,503	{string}	Retry-After			"seconds to wait before the next request"
//	@Header			all		{string}	X-Request-Id		"the request's id, as the logs and the audit trail name it"
//	@Router			/api/v1/keys [post]
func (h *Handler) CreateKey(c *fiber.Ctx) error {
	doc, err := body(c)
	if err != nil {
		return err
	}
	var req models.NewKeyRequest
	errs := &models.ValidationError{}
	for _, e := range doc {
		s, ok := e.Value.(string)
		switch {
		case e.Key != "name" && e.Key != "role":
			errs.Add(e.Key, "unknown field; the body holds name and role")
		case !ok:
			errs.Add(e.Key, "must be a string")
		case e.Key == "name":
			req.Name = s
		default:
			req.Role = models.Role(s)
		}
	}
	if err := errs.Err(); err != nil {
		return err
	}
	issued, err := h.keys.Issue(c.UserContext(), req)
	if err != nil {
		return err
	}
	c.Location("/api/v1/keys/" + issued.Name)
	return c.Status(fiber.StatusCreated).JSON(issued)
}

// ListKeys lists the API keys, without their secrets.
//
//	@Summary		List API keys
//	@Description	Every key, revoked ones included, by name, in one page. For admins.
//	@ID				listKeys
//	@Tags			keys
//	@Produce		json
//	@Success		200	{object}	models.KeyPage
//	@Failure		400	{object}	ErrorResponse	"validation_failed: this route takes no parameters"
//	@Security		BearerAuth
//	@Failure		401		{object}	ErrorResponse		"unauthenticated: no valid API key"
//	@Failure		403		{object}	ErrorResponse		"forbidden: the key's role does not allow this request"
//	@Failure		413		{object}	ErrorResponse		"payload_too_large: the body is over 1 MiB"
//	@Failure		429		{object}	ErrorResponse		"rate_limited: too many requests for this API key"
//	@Failure		500		{object}	ErrorResponse		"internal: an unexpected error, logged with the request id"
//	@Failure		503		{object}	ErrorResponse		"unavailable: the store did not answer in time, or is busy with reads of whole collections"
//	@Header			401		{string}	WWW-Authenticate	"the scheme to authenticate with: Bearer"
//	@Header			429,503	{string}	Retry-After			"seconds to wait before the next request"
//	@Header			all		{string}	X-Request-Id		"the request's id, as the logs and the audit trail name it"
//	@Router			/api/v1/keys [get]
func (h *Handler) ListKeys(c *fiber.Ctx) error {
	errs := &models.ValidationError{}
	readQuery(c, errs)
	if err := errs.Err(); err != nil {
		return err
	}
	keys, err := h.store.APIKeys(c.UserContext())
	if err != nil {
		return err
	}
	return c.JSON(models.KeyPage{Items: keys})
}

// GetKey returns one API key, without its secret.
//
//	@Summary		Get an API key
//	@Description	The key's name, role and times, never its secret. For admins.
//	@ID				getKey
//	@Tags			keys
//	@Produce		json
//	@Param			name	path		string	true	"Key name"
//	@Success		200		{object}	models.APIKey
//	@Failure		400		{object}	ErrorResponse	"validation_failed: not a valid name"
//	@Failure		404		{object}	ErrorResponse	"not_found: no key has this name"
//	@Security		BearerAuth
//	@Failure		401		{object}	ErrorResponse		"unauthenticated: no valid API key"
//	@Failure		403		{object}	ErrorResponse		"forbidden: the key's role does not allow this request"
//	@Failure		413		{object}	ErrorResponse		"payload_too_large: the body is over 1 MiB"
//	@Failure		429		{object}	ErrorResponse		"rate_limited: too many requests for this API key"
//	@Failure		500		{object}	ErrorResponse		"internal: an unexpected error, logged with the request id"
//	@Failure		503		{object}	ErrorResponse		"unavailable: the store did not answer in time, or is busy with reads of whole collections"
//	@Header			401		{string}	WWW-Authenticate	"the scheme to authenticate with: Bearer"
//	@Header			429,503	{string}	Retry-After			"seconds to wait before the next request"
//	@Header			all		{string}	X-Request-Id		"the request's id, as the logs and the audit trail name it"
//	@Router			/api/v1/keys/{name} [get]
func (h *Handler) GetKey(c *fiber.Ctx) error {
	name, err := identifierParam(c, "name")
	if err != nil {
		return err
	}
	key, err := h.store.APIKey(c.UserContext(), name)
	if err != nil {
		return err
	}
	return c.JSON(key)
}

// RevokeKey revokes an API key; it stays listed with its revocation time.
//
//	@Summary		Revoke an API key
//	@Description	Revokes the key at once; it stays listed with its revocation time. Revoking it again keeps the first time. For admins.
//	@ID				revokeKey
//	@Tags			keys
//	@Produce		json
//	@Param			name	path		string	true	"Key name"
//	@Success		200		{object}	models.APIKey
//	@Failure		400		{object}	ErrorResponse	"validation_failed: not a valid name"
//	@Failure		404		{object}	ErrorResponse	"not_found: no key has this name"
//	@Security		BearerAuth
//	@Failure		401		{object}	ErrorResponse		"unauthenticated: no valid API key"
//	@Failure		403		{object}	ErrorResponse		"forbidden: the key's role does not allow this request"
//	@Failure		413		{object}	ErrorResponse		"payload_too_large: the body is over 1 MiB"
//	@Failure		429		{object}	ErrorResponse		"rate_limited: too many requests for this API key"
//	@Failure		500		{object}	ErrorResponse		"internal: an unexpected error, logged with the request id"
//	@Failure		503		{object}	ErrorResponse		"unavailable: the store did not answer in time, or is busy with reads of whole collections"
//	@Header			401		{string}	WWW-Authenticate	"the scheme to authenticate with: Bearer"
//	@Header			429,503	{string}	Retry-After			"seconds to wait before the next request"
//	@Header			all		{string}	X-Request-Id		"the request's id, as the logs and the audit trail name it"
//	@Router			/api/v1/keys/{name} [delete]
func (h *Handler) RevokeKey(c *fiber.Ctx) error {
	name, err := identifierParam(c, "name")
	if err != nil {
		return err
	}
	key, err := h.keys.Revoke(c.UserContext(), name)
	if err != nil {
		return err
	}
	return c.JSON(key)
}
