"""Create the default program so single-program sites work out of the box.

Services also create it on first use (``Program.objects.get_default()``), so removing
it later, or renaming the setting, is harmless.
"""

from django.db import migrations


def create_default_program(apps, schema_editor):
    from django_referral_rewards.conf import app_settings

    Program = apps.get_model("referral_rewards", "Program")
    Program.objects.using(schema_editor.connection.alias).get_or_create(
        slug=app_settings.DEFAULT_PROGRAM,
        defaults={"name": "Default program", "currency": app_settings.DEFAULT_CURRENCY},
    )


class Migration(migrations.Migration):
    dependencies = [("referral_rewards", "0001_initial")]

    operations = [migrations.RunPython(create_default_program, migrations.RunPython.noop)]
