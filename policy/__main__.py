"""The trading-platform policy pack: `pulumi preview --policy-pack policy`."""

from pulumi_policy import PolicyPack
from trading_policies import POLICIES

PolicyPack(name="trading-platform", policies=POLICIES)
