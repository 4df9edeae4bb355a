"""The demo accounts of config/demo/aten.ldif (its header lists them too)."""

DEMO_PASSWORDS = {
    "mdurand": "Aten-Durand-86",
    "elegoff": "Aten-LeGoff-86",
    "sdalmeida": "Aten-DAlmeida-17",
    "hbernard": "Aten-Bernard-79",
    "jdupont": "Aten-Dupont-86",
}
