package handlers

import (
	"github.com/gofiber/fiber/v2"

	"github.com/clinic/interactions/models"
)

// CreateKey issues a new API key.
//
//	@Summary		Create an API key
//	@Description	Issues a random key (256 bits) for a name and a role. The key is in this answer only: only its hash is stored. For admins.
//	@Tags			keys
//	@Accept			json
//	@Produce		json
//	@Security		BearerAuth
//	@Param			key	body		models.NewKeyRequest	true	"Name and role (clinician, viewer, auditor or admin)"
//	@Success		201	{object}	models.IssuedKey
//	@Failure		400	{object}	ErrorResponse	"invalid name or role"
//	@Failure		401	{object}	ErrorResponse	"no valid API key"
//	@Failure		403	{object}	ErrorResponse	"not an admin"
//	@Failure		409	{object}	ErrorResponse	"a key with this name exists"
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
//	@Summary	List API keys
//	@Tags		keys
//	@Produce	json
//	@Security	BearerAuth
//	@Success	200	{array}		models.APIKey
//	@Failure	401	{object}	ErrorResponse	"no valid API key"
//	@Failure	403	{object}	ErrorResponse	"not an admin"
//	@Router		/api/v1/keys [get]
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
//	@Summary	Get an API key
//	@Tags		keys
//	@Produce	json
//	@Security	BearerAuth
//	@Param		name	path		string	true	"Key name"
//	@Success	200		{object}	models.APIKey
//	@Failure	401		{object}	ErrorResponse	"no valid API key"
//	@Failure	403		{object}	ErrorResponse	"not an admin"
//	@Failure	404		{object}	ErrorResponse	"no key has this name"
//	@Router		/api/v1/keys/{name} [get]
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
//	@Summary	Revoke an API key
//	@Tags		keys
//	@Produce	json
//	@Security	BearerAuth
//	@Param		name	path		string	true	"Key name"
//	@Success	200		{object}	models.APIKey
//	@Failure	401		{object}	ErrorResponse	"no valid API key"
//	@Failure	403		{object}	ErrorResponse	"not an admin"
//	@Failure	404		{object}	ErrorResponse	"no key has this name"
//	@Router		/api/v1/keys/{name} [delete]
func (h *Handler) RevokeKey(c *fiber.Ctx) error {
	name, err := identifierParam(c, "name")
	if err != nil {
		return err
	}
	key, err := h.store.RevokeAPIKey(c.UserContext(), name, models.StoreTime(h.now()))
	if err != nil {
		return err
	}
	return c.JSON(key)
}
