"""Notifications to Slack, Discord, e-mail and GitHub, for whoever has something to say: the registry
events service (registry events) and the drift job (drift alerts). See :mod:`.channels`."""

from .channels import CHANNELS, SECRET_ENV, Channel, DeliveryError, Message, channel, deliver, plain, send

__all__ = ["CHANNELS", "SECRET_ENV", "Channel", "DeliveryError", "Message", "channel", "deliver", "plain", "send"]
