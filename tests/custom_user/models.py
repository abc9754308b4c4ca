from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils import timezone


class MemberManager(BaseUserManager):
    def create_user(self, login, password=None, **extra):
        member = self.model(login=login, **extra)
        member.set_password(password)
        member.save(using=self._db)
        return member

    def create_superuser(self, login, password=None, **extra):
        return self.create_user(login, password, is_staff=True, is_superuser=True, **extra)


class Member(AbstractBaseUser, PermissionsMixin):
    login = models.CharField(max_length=150, unique=True)
    email = models.EmailField(blank=True)
    first_name = models.CharField(max_length=150, blank=True)
    last_name = models.CharField(max_length=150, blank=True)
    is_staff = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)

    USERNAME_FIELD = "login"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["email"]

    objects = MemberManager()

    def __str__(self) -> str:
        return self.login

    @property
    def username(self) -> str:
        return self.login
