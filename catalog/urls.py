from django.urls import path

from catalog import views

app_name = "catalog"

urlpatterns = [
    path("", views.home, name="home"),
    path("category/<slug:slug>/", views.category_detail, name="category-detail"),
    path("products/<slug:slug>/", views.product_detail, name="product-detail"),
    path("search/", views.search, name="search"),
    path("sale/", views.sale, name="sale"),
]
